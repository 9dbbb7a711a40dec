"""Sequence scenarios: the TOML the state machine prints loads back to the same steps, and
malformed files are refused with the file, the field and the reason."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import InvalidScenario
from harness.scenarios.sequence import (
    FIELDS,
    FLAGS,
    Sequence,
    Step,
    is_sequence,
    load_sequence,
    parse_sequence,
)
from harness.workload.runner import CONFIG_CHOICES

_N = st.integers(0, 1000)
_STEPS = st.one_of(
    st.builds(Step, st.just("deliver"), actor=_N, number=_N),
    st.builds(Step, st.just("read"), actor=_N, pick=_N),
    st.builds(Step, st.just("flag"), actor=_N, pick=_N, flag=st.sampled_from(FLAGS)),
    st.builds(Step, st.just("expunge"), actor=_N, pick=_N),
    st.builds(Step, st.just("provision"), number=_N),
    st.builds(Step, st.just("deprovision"), actor=_N),
    st.sampled_from([Step("backup"), Step("crash"), Step("restore")]),
    st.builds(Step, st.just("corrupt"), pick=_N),
    st.sampled_from(
        [Step("config", key=k, value=v) for k, vs in CONFIG_CHOICES.items() for v in vs]
    ),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_STEPS, min_size=1, max_size=12), seed=st.integers(0, 99))
def test_a_printed_sequence_loads_back_to_the_same_steps(steps: list[Step], seed: int) -> None:
    import tomllib

    sequence = Sequence("s", tuple(steps), 'quote " and \\ survive', "chapter13", "XS", seed)
    loaded = parse_sequence(tomllib.loads(sequence.to_toml()), path="s.toml", default_name="s")
    assert loaded == sequence


def test_every_action_has_its_fields() -> None:
    assert set(FIELDS) == {
        "deliver", "read", "flag", "expunge", "provision", "deprovision",
        "config", "backup", "crash", "corrupt", "restore",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[step]]\naction = "explode"\n', "step 1.action"),
        ('[[step]]\naction = "deliver"\nactor = 0\n', "step 1"),
        ('[[step]]\naction = "deliver"\nactor = -1\nnumber = 1\n', "step 1.actor"),
        ('[[step]]\naction = "backup"\nactor = 1\n', "step 1.actor"),
        ('[[step]]\naction = "read"\nactor = "me"\npick = 0\n', "step 1.actor"),
        ('[population]\nseed = -1\n[[step]]\naction = "crash"\n', "population.seed"),
        ('[population]\ntier = "xs"\n[[step]]\naction = "crash"\n', None),
        ('[[step]]\naction = "crash"\n[[step]]\nnothing = 1\n', "step 2.action"),
        ('description = 3\n[[step]]\naction = "crash"\n', "description"),
        ('name = "a/../../escaped"\n[[step]]\naction = "crash"\n', "name"),
        ('name = ""\n[[step]]\naction = "crash"\n', "name"),
        ('procedure = "sys:exit"\n[[step]]\naction = "crash"\n', "procedure"),
        ('procedure = "os:system"\n[[step]]\naction = "crash"\n', "procedure"),
        ('procedure = ".x:Y"\n[[step]]\naction = "crash"\n', "procedure"),
        (
            '[[step]]\naction = "config"\nkey = "/*/common/logLevel"\nvalue = "x]"\n',
            "step 1.value",
        ),
        ('[[step]]\naction = "deliver"\nactor = 0\nnumber = inf\n', "step 1.number"),
        ('[[step]]\naction = "flag"\nactor = 0\npick = 0\nflag = "\\\\Bogus"\n', "step 1.flag"),
        ('[[step]]\naction = "config"\nkey = "/*/x/y"\nvalue = "1"\n', "step 1.key"),
        ('procedure = "flaw:nonsense"\n[[step]]\naction = "crash"\n', "procedure"),
        ('procedure = "no.such.module:X"\n[[step]]\naction = "crash"\n', "procedure"),
        ('[population]\ntier = "L"\n[[step]]\naction = "crash"\n', "population.tier"),
        ('bogus = 1\n[[step]]\naction = "crash"\n', "bogus"),
        ("step = []\n", "step"),
    ],
)
def test_malformed_sequences_name_the_field(text: str, where: str | None, tmp_path: Path) -> None:
    """The same checks (and messages) as a scenario's; a lower-case tier is taken as such."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    if where is None:
        assert load_sequence(path).tier == "XS"
        return
    with pytest.raises(InvalidScenario) as caught:
        load_sequence(path)
    assert caught.value.where == where and str(path) in str(caught.value)


def test_a_drill_scenario_is_not_a_sequence(tmp_path: Path) -> None:
    assert not is_sequence(Path("scenarios/default.toml"))
    (tmp_path / "s.toml").write_text('[[step]]\naction = "crash"\n')
    assert is_sequence(tmp_path / "s.toml")


def test_firedrill_run_refuses_a_malformed_sequence_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[step]]\naction = "explode"\n')
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli.firedrill", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "step 1.action" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_printed_sequence_with_any_unicode_reads_back() -> None:
    """The state machine prints failures as TOML: an emoji or a control character in a text
    must not make the file unreadable (TOML takes \\uXXXX escapes of scalar values only)."""
    sequence = Sequence(
        "emoji", (Step("config", key="/*/common/logLevel", value="debug"),), "fire 🔥 \x01 drill"
    )
    again = parse_sequence(tomllib.loads(sequence.to_toml()), path="x", default_name="emoji")
    assert again.description == sequence.description and again.steps == sequence.steps
