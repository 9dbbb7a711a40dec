"""The drill: a scenario run through its phases into a frozen record, judged once.

`runner` (the phases in order, the `Recorder`), `phases` and `evidence` (each phase a function
returning a frozen record), `record` (the `DrillRecord` and its phase records), `verdict` (the
pure `judge`), `report` (report.json: `DrillReport.to_json`/`from_json`), `outputs` (junit.xml,
report.html, drills.jsonl), `summary` (the terminal line), `lab` (report directory, sandbox,
servers: shared with the step engine), `stepper`, `refmodel`, `sequence_record`, `sequence_run`
(sequence scenarios), `selftest`, `replay`.
"""
