"""The CLI: refusals and bad input are one line and exit 2; outputs carry what users need."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.firedrill import main
from harness.layout import Layout
from harness.store.directory import Directory

pytestmark = pytest.mark.integration


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.firedrill", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [["init"], ["populate", "--tier", "XS"]])
def test_writing_commands_refuse_a_non_empty_root_without_marker(
    command: list[str], tmp_path: Path
) -> None:
    root = tmp_path / "precious"
    root.mkdir()
    (root / "important.txt").write_text("do not touch\n")
    (root / "db").mkdir()
    before = _snapshot(root)
    done = _run(*command, "--root", str(root))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "refusing" in done.stderr
    assert "Traceback" not in done.stderr
    assert _snapshot(root) == before and sorted(p.name for p in root.iterdir()) == [
        "db",
        "important.txt",
    ]


def test_writing_commands_refuse_a_file_as_root(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    done = _run("init", "--root", str(target))
    assert done.returncode == 2 and "not a directory" in done.stderr
    assert target.read_text() == "x"


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
    done = _run("check", "--root", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_against_a_missing_manifest_is_exit_2(golden_xs: Layout, tmp_path: Path) -> None:
    done = _run("check", "--root", str(golden_xs.root), "--against", str(tmp_path / "none"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_populate_twice_refuses_then_force_repopulates(tmp_path: Path) -> None:
    root = tmp_path / "im"
    assert _run("populate", "--root", str(root), "--tier", "XS", "--quiet").returncode == 0
    again = _run("populate", "--root", str(root), "--tier", "XS", "--quiet")
    assert again.returncode == 2 and "already populated" in again.stderr
    assert (
        _run(
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
            _run(
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
