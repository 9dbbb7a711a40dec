"""The CLI: refusals and bad input are one line and exit 2; outputs carry what users need."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cli.firedrill import main
from harness.history import HistoryWriter, Outcome, Provision
from harness.layout import Layout
from harness.store.directory import Directory
from tests.support.cli import FIREDRILL, IMBOXMAINT, IMCTRL, firedrill, run_module

pytestmark = pytest.mark.integration


def _entries(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and directory (None) under root: a created log/ or run/ shows."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


WRITING_COMMANDS = [
    (FIREDRILL, ["init"]),
    (FIREDRILL, ["populate", "--tier", "XS"]),
    (FIREDRILL, ["populate", "--tier", "XS", "--force"]),
    (IMCTRL, ["start", "allservers"]),
    (IMCTRL, ["stop", "allservers"]),
    (IMCTRL, ["drain", "allservers"]),
    (IMCTRL, ["restart", "allservers"]),
    (IMBOXMAINT, ["newuidvalidity"]),
    (FIREDRILL, ["workload", "--history", "/nonexistent/firedrill-h.jsonl", "--seconds", "1"]),
]
"""Every command that writes into a --root it is given (`workload` keeps the credentials of the
accounts it provisions there); firedrill's others only read it, write elsewhere, or make their
own sandboxes."""
_IDS = [f"{m.rsplit('.', 1)[-1]}-{'-'.join(a)}" for m, a in WRITING_COMMANDS]


@pytest.mark.parametrize(("module", "command"), WRITING_COMMANDS, ids=_IDS)
def test_writing_commands_refuse_a_non_empty_root_without_marker(
    module: str, command: list[str], tmp_path: Path
) -> None:
    root = tmp_path / "precious"
    root.mkdir()
    (root / "important.txt").write_text("do not touch\n")
    (root / "db").mkdir()
    before = _entries(root)
    done = run_module(module, *command, "--root", str(root))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "refusing" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _entries(root) == before and sorted(p.name for p in root.iterdir()) == [
        "db",
        "important.txt",
    ]


@pytest.fixture
def unmarked_xs(tree_xs: Layout) -> Iterator[Layout]:
    """A whole populated installation without its sandbox marker, on a leased loopback /24 (so
    that a server started by mistake collides with nobody, and is killed afterwards)."""
    from fixtures.topology import relocate
    from harness import control
    from harness.environments.network import lease_network
    from harness.store.config import load, save

    with lease_network() as network:
        save(relocate(load(tree_xs.config), network), tree_xs.config)
        tree_xs.marker.unlink()
        try:
            yield tree_xs
        finally:
            control.kill(tree_xs)


@pytest.mark.parametrize(("module", "command"), WRITING_COMMANDS, ids=_IDS)
def test_writing_commands_refuse_an_installation_without_marker(
    module: str, command: list[str], unmarked_xs: Layout
) -> None:
    root = unmarked_xs.root
    before = _entries(root)
    done = run_module(module, *command, "--root", str(root))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "refusing" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _entries(root) == before


def test_imctrl_status_reads_an_installation_without_marker(unmarked_xs: Layout) -> None:
    before = _entries(unmarked_xs.root)
    done = run_module(IMCTRL, "status", "--root", str(unmarked_xs.root), "--json")
    assert done.returncode == 0, done.stderr
    assert {row["state"] for row in json.loads(done.stdout)} == {"stopped"}
    assert _entries(unmarked_xs.root) == before


def test_writing_commands_refuse_a_file_as_root(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    done = firedrill("init", "--root", str(target))
    assert done.returncode == 2 and "not a directory" in done.stderr
    assert target.read_text() == "x"


@pytest.mark.parametrize(
    ("module", "command"),
    [
        (FIREDRILL, ["check"]),
        (IMCTRL, ["status"]),
        (IMCTRL, ["start"]),
        (IMBOXMAINT, ["newuidvalidity"]),
    ],
    ids=["check", "imctrl-status", "imctrl-start", "imboxmaint"],
)
def test_a_file_as_root_is_not_a_directory(module: str, command: list[str], tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    done = run_module(module, *command, "--root", str(target))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not a directory" in done.stderr, done.stderr
    assert "does not exist" not in done.stderr and target.read_text() == "x"


def test_init_creates_the_tree_with_its_marker(tmp_path: Path) -> None:
    root = tmp_path / "new"
    assert main(["init", "--root", str(root)]) == 0
    layout = Layout(root)
    assert layout.marker.is_file()
    for path in (
        "msgfiles",
        "db/mbox",
        "db/msgid",
        "db/entry",
        "db/index",
        "db/dircache",
        "mta/spool",
        "config",
    ):
        assert (root / path).is_dir(), path
    assert main(["init", "--root", str(root)]) == 0  # idempotent inside its own sandbox


def test_check_on_a_missing_root_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = firedrill("check", "--root", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_against_a_missing_manifest_is_exit_2(golden_xs: Layout, tmp_path: Path) -> None:
    done = firedrill("check", "--root", str(golden_xs.root), "--against", str(tmp_path / "none"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_populate_twice_refuses_then_force_repopulates(tmp_path: Path) -> None:
    root = tmp_path / "im"
    assert firedrill("populate", "--root", str(root), "--tier", "XS", "--quiet").returncode == 0
    again = firedrill("populate", "--root", str(root), "--tier", "XS", "--quiet")
    assert again.returncode == 2 and "already populated" in again.stderr
    assert (
        firedrill(
            "populate", "--root", str(root), "--tier", "XS", "--quiet", "--force", "--seed", "3"
        ).returncode
        == 0
    )


def _msgfiles_digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted((root / "msgfiles").rglob("*")):
        if path.is_file():
            sha.update(path.relative_to(root).as_posix().encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def test_same_seed_gives_byte_identical_message_files(tmp_path: Path) -> None:
    roots = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for root, seed in zip(roots, ("5", "5", "6"), strict=True):
        assert (
            firedrill(
                "populate", "--root", str(root), "--tier", "XS", "--seed", seed, "--quiet"
            ).returncode
            == 0
        )
    a, b, c = (_msgfiles_digest(r) for r in roots)
    assert a == b
    assert a != c


def test_accounts_json_lists_credentials_that_authenticate(
    golden_xs: Layout,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["accounts", "--root", str(golden_xs.root), "--json"]) == 0
    accounts = json.loads(capsys.readouterr().out)
    assert len(accounts) == 10
    assert {"address", "login", "password", "mailboxid", "status"} <= set(accounts[0])
    with Directory(golden_xs) as directory:
        for account in accounts[:3]:
            assert directory.authenticate(account["login"], account["password"]) is not None
            assert directory.authenticate(account["login"], "wrong") is None


def test_check_json_is_the_full_record_and_exit_1_on_violation(
    tree_xs: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--root", str(tree_xs.root), "--json", "--quiet"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean["verdict"] == "pass" and clean["findings"] == []
    victim = next(p for p in tree_xs.msgfiles.rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"tampered")
    assert main(["check", "--root", str(tree_xs.root), "--json", "--quiet"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(f["kind"], f["id"]) for f in report["findings"]] == [
        ("message-size-mismatch", victim.name)
    ]
    assert report["findings"][0]["remedy"]


def test_manifest_then_check_against_it_is_clean(
    golden_xs: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.jsonl"
    assert main(["manifest", "--root", str(golden_xs.root), "-o", str(manifest)]) == 0
    assert (
        main(["check", "--root", str(golden_xs.root), "--against", str(manifest), "--quiet"]) == 0
    )
    assert "PASS" in capsys.readouterr().out


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("firedrill: error: "), err
    assert "Traceback" not in err and "crashed" not in err
    return err


def _bad_first_record(lines: list[str]) -> None:
    lines[1] = "{not json"


def _bad_line_further_down(lines: list[str]) -> None:
    lines[len(lines) // 2] = lines[len(lines) // 2][:20]


def _record_without_size(lines: list[str]) -> None:
    record = json.loads(lines[1])
    del record["size"]
    lines[1] = json.dumps(record)


@pytest.mark.parametrize(
    "damage", [_bad_first_record, _bad_line_further_down, _record_without_size]
)
def test_check_against_a_manifest_with_a_bad_record_is_one_line_naming_it_and_exit_2(
    damage: Callable[[list[str]], None],
    golden_xs: Layout,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = tmp_path / "m.jsonl"
    assert main(["manifest", "--root", str(golden_xs.root), "-o", str(manifest)]) == 0
    original = manifest.read_text().splitlines()
    lines = list(original)
    damage(lines)
    bad = next(n for n, (a, b) in enumerate(zip(lines, original, strict=True)) if a != b)
    manifest.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    code = main(["check", "--root", str(golden_xs.root), "--against", str(manifest), "--quiet"])
    assert code == 2
    assert f"{manifest}:{bad + 1}: " in _one_line_error(capsys)


def test_check_with_a_malformed_history_line_is_one_line_naming_it_and_exit_2(
    golden_xs: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.jsonl"
    with HistoryWriter(history) as ledger:
        for n in range(3):
            index = ledger.invoke(Provision(f"user{n}@example.com", "pw"))
            ledger.complete(index, Outcome.OK)
    lines = history.read_text().splitlines()
    assert '"outcome":"ok"' in lines[3]  # the second operation's completion
    lines[3] = lines[3].replace('"outcome":"ok"', '"outcome":"perhaps"')
    history.write_text("\n".join(lines) + "\n")
    code = main(["check", "--root", str(golden_xs.root), "--history", str(history), "--quiet"])
    assert code == 2
    assert f"{history}:4: not a history record" in _one_line_error(capsys)


def test_manifest_into_a_directory_is_one_line_exit_2_and_leaves_nothing_behind(
    golden_xs: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    assert main(["manifest", "--root", str(golden_xs.root), "-o", str(target)]) == 2
    assert "is a directory" in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert list(target.iterdir()) == []


def test_a_failed_manifest_of_a_broken_config_leaves_no_temporary_file(
    tree_xs: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree_xs.config.write_text(tree_xs.config.read_text() + "this line is not config\n")
    out = tmp_path / "manifests"
    out.mkdir()
    code = main(["manifest", "--root", str(tree_xs.root), "-o", str(out / "m.jsonl")])
    assert code == 2
    assert "cannot record config" in _one_line_error(capsys)
    assert list(out.iterdir()) == []



def test_every_run_option_has_help() -> None:
    """A first-time operator reads the options without the source."""
    from harness.cli.firedrill import build_parser

    run = next(
        a.choices["run"]
        for a in build_parser()._actions
        if isinstance(a.choices, dict) and "run" in a.choices
    )
    undocumented = [a.dest for a in run._actions if not a.help]
    assert undocumented == [], undocumented
