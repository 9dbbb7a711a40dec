"""Faults: the disasters a drill inflicts (crash, hardware failure, data corruption, operator
error), each with its recovery, the capabilities it needs and the record it leaves.

`kinds` is the one registry; `spec` the scenario's `[disaster]` table; `record` what a strike
leaves; `crash`, `hardware`, `corruption`, `operator` how each kind strikes; `came_back` how a
drill tells that what a disaster destroyed came back.
"""
