"""Every number of every sample report, hostile (tests/unit/test_report_numbers.py takes each
kind of number once): `report show` and `report render` work or refuse in one line, and every
output renders a record judged again. Minutes: 1235 numbers, six values, two ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_report_numbers import HOSTILE, IN_RECORD, sweep_record, sweep_report_json

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("literal", HOSTILE)
def test_every_number_of_every_sample_hostile(tmp_path: Path, literal: str) -> None:
    sweep_report_json(tmp_path, literal, every=True)


@pytest.mark.parametrize("value", IN_RECORD)
def test_every_number_of_every_record_hostile_judged_again(value: float) -> None:
    sweep_record(value, every=True)
