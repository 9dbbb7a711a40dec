"""The outputs of a drill, rendered from its report (the record and the one judgement):
junit.xml for CI, report.html for people, the terminal summary, and the trend of drills.

Modules: `model` (what every output shares), `checks` (the checklist junit and html show),
`junit`, `html` and `details` (report.html's view data), `charts` (its SVG geometry), `show`
(rich), `trend` (drills.jsonl and regressions), `trend_html`, `pages` (the jinja2 environment
of the HTML pages: templates/, autoescape on), `svg` (chart numbers), `schema` (report.json's
JSON Schema), `cli` (`firedrill report trend|show|render`).
"""

JUNIT_NAME = "junit.xml"
HTML_NAME = "report.html"
