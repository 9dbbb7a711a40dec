"""Scenarios: what a drill runs. `scenario` (a TOML file per drill, validated by its dataclass
fields through `fields`), `sequence` (an explicit list of steps, e.g. a state machine's shrunk
failure) and `catalogue` (the scenarios/ directory)."""
