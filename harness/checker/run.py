"""`firedrill check`: run every invariant check on a tree, never raising, and merge the verdict."""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.checker import accounts, files, messages
from harness.checker.backup import compare
from harness.checker.clients import check_clients
from harness.checker.context import CheckContext
from harness.checker.databases import open_scratch
from harness.checker.durability import check_history
from harness.checker.explained import since_point
from harness.checker.findings import CheckError, Finding, Severity, Skipped, Verdict
from harness.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATIONS, NotAnInstallation
from harness.history import validate_history
from harness.manifest import queued_copies, validate_manifest
from harness.sandbox import require_installation

Check = Callable[[CheckContext], Iterator[Finding]]

CHECKS: tuple[tuple[str, Check], ...] = (
    ("rows", messages.check_rows),
    ("records", messages.check_records),
    ("orphans", messages.check_orphans),
    ("accounts", accounts.check_accounts),
    ("mailbox owners", accounts.check_mailbox_owners),
    ("dircache", accounts.check_dircache),
    ("config", files.check_config),
    ("spool", files.check_spool),
)
"""Order matters once: `rows` counts references that `records` compares with refcounts."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `firedrill check` found in one tree: the findings, the checks that crashed
    (`errors`) or could not run (`skipped`), counters (`stats`), seconds taken, and the
    sha256 of each recovered database file the checks read (`recovered`, 'env/file' -> hex:
    two checks with equal digests read the same databases)."""

    root: str
    findings: tuple[Finding, ...] = ()
    errors: tuple[CheckError, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    against: str | None = None
    recovered: dict[str, str] = field(default_factory=dict)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.VIOLATION]

    def verdict(self) -> Verdict:
        """fail > unknown > pass: violations fail, a crashed check leaves it unknown."""
        if self.violations:
            return Verdict.FAIL
        return Verdict.UNKNOWN if self.errors else Verdict.PASS

    def exit_code(self) -> int:
        return {
            Verdict.PASS: EXIT_OK,
            Verdict.FAIL: EXIT_VIOLATIONS,
            Verdict.UNKNOWN: EXIT_BAD_INPUT,
        }[self.verdict()]

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "against": self.against,
            "verdict": self.verdict().value,
            "seconds": self.seconds,
            "stats": self.stats,
            "counts": {s.value: sum(f.severity is s for f in self.findings) for s in Severity},
            "findings": [f.to_json() for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
            "skipped": [s.to_json() for s in self.skipped],
            "recovered": self.recovered,
        }


def run_check(
    root: Path,
    *,
    against: Path | None = None,
    history: Path | None = None,
    progress: bool = False,
    restored: bool | None = None,
) -> CheckReport:
    """Check the installation at `root` (and compare it with a manifest when given).

    With both a manifest and a history, a difference from the manifest that an operation
    after the backup's consistency point explains is `newer-than-backup`, not a violation
    (harness.checker.explained: a restore is judged by what was promised).

    `restored`: the tree was restored from a backup (a restore's new UIDVALIDITY is then
    expected, not needless); by default, when a manifest is given.

    Raises only for bad input (no installation at root); every check's own failure becomes a
    CheckError in the report.
    """
    layout = require_installation(root)
    if against is not None:
        validate_manifest(against)
    if history is not None:
        if not history.is_file():
            raise NotAnInstallation(f"no history at {history}")
        validate_history(history)  # a malformed line is bad input, refused before any check
    started = time.monotonic()
    findings: list[Finding] = []
    errors: list[CheckError] = []
    with tempfile.TemporaryDirectory(prefix="firedrill-check-") as scratch:
        stores = open_scratch(layout, Path(scratch))
        try:
            findings += stores.findings
            recovered = stores.recovered()
            ctx = CheckContext(layout, stores, progress=progress)
            checks = list(CHECKS)
            if against is not None:
                since = since_point(history) if history is not None else None
                checks.append(("manifest", lambda c: compare(c, against, since)))
            if history is not None:
                checks.append(
                    (
                        "history",
                        lambda c: check_history(c, history, queued=queued_copies(against)),
                    )
                )
                after = against is not None if restored is None else restored
                checks.append(("clients", lambda c: check_clients(c, history, restored=after)))
            for name, check in checks:
                _run_one(name, check, ctx, findings, errors)
            skipped = stores.skipped + ctx.skipped
            stats = dict(ctx.stats)
        finally:
            stores.close()
    return CheckReport(
        str(layout.root),
        tuple(findings),
        tuple(errors),
        tuple(skipped),
        stats,
        round(time.monotonic() - started, 3),
        str(against) if against else None,
        recovered,
    )


def check_environments(root: Path) -> CheckReport:
    """Invariant 5 alone: copy, verify and recover every Berkeley DB environment of the
    installation at `root` (its findings, and the recovered databases' digests for a
    comparison with an earlier check). Raises only for bad input (no installation)."""
    layout = require_installation(root)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="firedrill-check-") as scratch:
        stores = open_scratch(layout, Path(scratch))
        try:
            recovered = stores.recovered()
        finally:
            stores.close()
    return CheckReport(
        str(layout.root),
        tuple(stores.findings),
        skipped=tuple(stores.skipped),
        seconds=round(time.monotonic() - started, 3),
        recovered=recovered,
    )


def _run_one(
    name: str, check: Check, ctx: CheckContext, findings: list[Finding], errors: list[CheckError]
) -> None:
    """Collect a check's findings; a crash keeps what it found and is recorded, not raised."""
    try:
        for finding in check(ctx):
            findings.append(finding)
    except Exception as exc:  # checkers never raise: the error becomes an unknown verdict
        last = traceback.extract_tb(exc.__traceback__)[-1]
        errors.append(
            CheckError(
                name, f"{type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
            )
        )
