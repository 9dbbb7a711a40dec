"""Invariant 5: each Berkeley DB environment verifies, has its logs, and recovers normally.

The tree under test is never modified: every environment's data files and logs (not its
`__db.*` region files) are copied to a scratch directory, verified there with `db_verify`,
recovered there, and the other checks read the recovered copy. When an environment cannot be
recovered, its database files are opened on their own, read-only, so that the cross checks
still run and one broken log gives one finding, not a cascade.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berkeleydb import db

from harness.checker.findings import (
    DatabaseCorrupt,
    DatabaseMissing,
    Finding,
    LogGap,
    LogMissing,
    RecoveryFailed,
    Skipped,
    StoreMissing,
)
from harness.layout import Layout
from harness.store.bdb import DATABASES, ENV_FLAGS

_LOG = re.compile(r"^log\.(\d{10})$")
_META = struct.Struct("<IIIII")  # lsn.file, lsn.offset, pgno, magic, version (then pagesize)
DB_VERIFY = "db_verify"


@dataclass
class ScratchStores:
    """Read-only handles on recovered copies of the environments, and what could not be read."""

    root: Path
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    """What could not be checked at all (db_verify not installed), for the report."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """'env/file' -> why its content cannot be trusted (already reported as a finding)."""
    _envs: dict[str, Any] = field(default_factory=dict)
    _handles: dict[str, Any] = field(default_factory=dict)

    def handle(self, env: str, filename: str) -> Any:
        """The open database, or None when it is missing or was reported broken."""
        return self._handles.get(f"{env}/{filename}")

    def recovered(self) -> dict[str, str]:
        """sha256 of each recovered database file ('env/file' -> hex digest) as the checks
        read it: equal digests of two checks mean equal databases (record for record)."""
        digests: dict[str, str] = {}
        for name, files in DATABASES.items():
            for f in files:
                path = self.root / name / f
                if f"{name}/{f}" in self._handles and path.is_file():
                    with path.open("rb") as handle:
                        digests[f"{name}/{f}"] = hashlib.file_digest(handle, "sha256").hexdigest()
        return digests

    def readable(self, *names: str) -> bool:
        return all(n in self._handles and n not in self.unreadable for n in names)

    def close(self) -> None:
        for handle in self._handles.values():
            with contextlib.suppress(db.DBError):
                handle.close()
        for env in self._envs.values():
            with contextlib.suppress(db.DBError):
                env.close()
        self._handles.clear()
        self._envs.clear()


def log_numbers(home: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in home.iterdir() if (m := _LOG.match(p.name)))


def highest_lsn(path: Path) -> tuple[int, int]:
    """The newest log position (file, offset) any page of a database file was written at."""
    highest = (0, 0)
    with path.open("rb") as handle:
        meta = handle.read(512)
        if len(meta) < 24:
            return highest
        pagesize = struct.unpack_from("<I", meta, 20)[0]
        if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
            return highest
        handle.seek(0)
        while chunk := handle.read(pagesize * 256):
            for offset in range(0, len(chunk) - 7, pagesize):
                highest = max(highest, struct.unpack_from("<II", chunk, offset))
    return highest


def highest_lsn_file(path: Path) -> int:
    """The newest log file number any page of a database file was last written under."""
    return highest_lsn(path)[0]


def _verify(path: Path) -> str | None:
    """None when db_verify accepts the file, else its first complaint.

    Raises FileNotFoundError when db_verify is not installed (the caller notes the skip).
    """
    done = subprocess.run(
        [DB_VERIFY, "-q", str(path)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode == 0:
        return None
    lines = [ln.split(": ", 1)[-1] for ln in done.stderr.splitlines() if ln.strip()]
    page = next((ln for ln in lines if "page" in ln.lower()), None)
    return page or (lines[0] if lines else f"db_verify exited {done.returncode}")


def _check_logs(name: str, original: Path, files: list[str]) -> list[Finding]:
    """Gaps in the log sequence, and pages written under a log file that is not there."""
    numbers = log_numbers(original)
    findings: list[Finding] = []
    if numbers:
        missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        if missing:
            findings.append(
                LogGap(
                    f"db/{name}/log.{missing[0]:010d}",
                    f"log files {numbers[0]}..{numbers[-1]} have {len(missing)} missing",
                )
            )
            return findings
    newest = numbers[-1] if numbers else 0
    needed = max((highest_lsn_file(original / f) for f in files), default=0)
    if needed > newest:
        findings.append(
            LogMissing(
                f"db/{name}/log.{needed:010d}",
                f"pages were written under log {needed} but the newest log present is "
                f"{newest or 'none'}",
            )
        )
    return findings


@contextlib.contextmanager
def scratch_copy(
    layout: Layout,
    envs: tuple[str, ...] = tuple(DATABASES),
) -> Iterator[ScratchStores]:
    """Recovered private copies of some environments, removed afterwards (safe on a live tree)."""
    with tempfile.TemporaryDirectory(prefix="firedrill-read-") as scratch:
        stores = open_scratch(layout, Path(scratch), envs)
        try:
            yield stores
        finally:
            stores.close()


def open_scratch(
    layout: Layout, scratch: Path, envs: tuple[str, ...] = tuple(DATABASES)
) -> ScratchStores:
    """Copy, verify and recover environments; return read handles on the copies."""
    stores = ScratchStores(scratch)
    for name, files in DATABASES.items():
        if name not in envs:
            continue
        original = layout.env(name)
        if not original.is_dir():
            stores.findings.append(StoreMissing(f"db/{name}", "the environment directory is gone"))
            continue
        present = [f for f in files if (original / f).is_file()]
        for f in files:
            if f not in present:
                stores.findings.append(DatabaseMissing(f"db/{name}/{f}"))
        copy = scratch / name
        copy.mkdir(parents=True)
        for p in original.iterdir():
            if p.name in present or _LOG.match(p.name):
                with contextlib.suppress(FileNotFoundError):  # a log removed meanwhile
                    shutil.copy2(p, copy / p.name)
        log_findings = _check_logs(name, original, present)
        stores.findings += log_findings
        for f in present:
            complaint = _verify_or_skip(stores, copy / f)
            if complaint:
                stores.findings.append(DatabaseCorrupt(f"db/{name}/{f}", complaint))
                stores.unreadable[f"{name}/{f}"] = complaint
        corrupt = any(f"{name}/{f}" in stores.unreadable for f in present)
        _recover_and_open(stores, name, copy, present, quiet=bool(log_findings) or corrupt)
    return stores


def _verify_or_skip(stores: ScratchStores, path: Path) -> str | None:
    """db_verify's complaint about `path`; without db_verify, one `skipped` note per run."""
    if any(s.check == DB_VERIFY for s in stores.skipped):
        return None
    try:
        return _verify(path)
    except FileNotFoundError:
        stores.skipped.append(
            Skipped(
                DB_VERIFY,
                f"{DB_VERIFY} is not installed (db-util): database pages were not verified; "
                "only the read pass checks them",
            )
        )
        return None


def _recover_and_open(
    stores: ScratchStores, name: str, copy: Path, files: list[str], *, quiet: bool
) -> None:
    env = db.DBEnv()
    try:
        env.open(str(copy), ENV_FLAGS | db.DB_RECOVER)
        for f in files:
            handle = db.DB(env)
            handle.set_get_returns_none(2)
            handle.open(f, dbtype=db.DB_BTREE, flags=db.DB_RDONLY)
            stores._handles[f"{name}/{f}"] = handle
        stores._envs[name] = env
        if not quiet:
            _pages_ahead_of_log(stores, name, copy, files, env)
        return
    except db.DBError as exc:
        for f in files:
            handle = stores._handles.pop(f"{name}/{f}", None)
            if handle is not None:
                with contextlib.suppress(db.DBError):
                    handle.close()
        with contextlib.suppress(db.DBError):
            env.close()
        if not quiet:
            stores.findings.append(RecoveryFailed(f"db/{name}", _bdb_message(exc)))
    for f in files:  # salvage: read the data files without their environment
        handle = db.DB()
        handle.set_get_returns_none(2)
        try:
            handle.open(str(copy / f), dbtype=db.DB_BTREE, flags=db.DB_RDONLY)
        except db.DBError as exc:
            reason = _bdb_message(exc)
            if f"{name}/{f}" not in stores.unreadable:
                stores.findings.append(DatabaseCorrupt(f"db/{name}/{f}", reason))
            stores.unreadable[f"{name}/{f}"] = reason
            continue
        stores._handles[f"{name}/{f}"] = handle


def _pages_ahead_of_log(
    stores: ScratchStores, name: str, copy: Path, files: list[str], env: Any
) -> None:
    """Pages written at a log position the log does not reach: their logs were not restored.

    Write-ahead logging guarantees every page's LSN is at or below the end of the log; data
    files copied (or restored) without their log files break it, and the next crash would
    then replay the wrong records onto them.
    """
    stat = env.log_stat()
    end = (int(stat["cur_file"]), int(stat["cur_offset"]))
    for f in files:
        lsn = highest_lsn(copy / f)
        if lsn > end:
            stores.findings.append(
                LogMissing(
                    f"db/{name}/log.{lsn[0]:010d}",
                    f"{f} has pages at log position {lsn[0]}/{lsn[1]} but the log ends at "
                    f"{end[0]}/{end[1]}: the log files that go with these data files are missing",
                )
            )
            return


def _bdb_message(exc: BaseException) -> str:
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    return str(args[1]) if len(args) > 1 else str(exc)


def items(handle: Any) -> Iterator[tuple[bytes, bytes]]:
    """Stream a database in key order (errors propagate to the calling check)."""
    cursor = handle.cursor()
    try:
        item = cursor.first()
        while item is not None:
            yield item
            item = cursor.next()
    finally:
        cursor.close()
