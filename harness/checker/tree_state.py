"""What a clean restart may have changed: the state of a tree, taken before verify's offline
check read it, compared with the same tree after the restart (invariant 10's second half).

The offline check is a function of what it reads: the recovered Berkeley DB databases, the
message files, the spool, config.db, the directory cache and the harness's own files beside
them (and the history and manifest, which the drill does not change after verify). When all
of that is the same after the restart, every finding of verify's check stands unchanged, and
only what the restart does change by design is checked again: the environments' logs (a
clean stop and start appends checkpoint records and may remove logs no longer needed), so
the environments are copied, verified and recovered again (invariant 5) and the recovered
databases are compared with the ones verify's check read, byte for byte (sha256). Anything
else that differs sends the drill back to the whole offline check.

Files are compared by their status, as git compares its index with the work tree: size,
modification and change times (ns), inode, mode, owner and group. The change time cannot be
set back by a program (`utime` sets it to now), so a write, a rename over the file or a chmod
shows. A file changed within `RACY_SECONDS` before its status was taken may change again in
the same clock tick without its times moving ("racily clean", git's term): its content is
hashed as well, then and after the restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.layout import ENVIRONMENTS

RACY_SECONDS = 2.0
"""A file whose change time is this recent (seconds) when its status is taken is also hashed:
covers clock ticks of a few ms (ext4, xfs, tmpfs) and file systems that keep whole seconds."""

SKIPPED = frozenset({"run", "log"})
"""Top-level directories the offline check never reads: the servers' pid, lock and log files."""

LISTED = 20
"""A comparison names at most this many things that changed."""


@dataclass(frozen=True, slots=True)
class TreeState:
    """The status of every file the offline check reads, one sha256 per area (`msgfiles`,
    `db/<environment>`, `db/dircache`, `mta/spool`, `config`, `.firedrill`, `.` for the top
    level), with `taken` the wall-clock time (seconds since the epoch) it was taken,
    `entries` the files and directories listed, `racy` the files also hashed (relative
    paths), `history_bytes` the history's size then, and `recovered` the sha256 of each
    recovered database file ('env/file') that verify's check read (`CheckReport.recovered`)."""

    taken: float
    entries: int
    areas: tuple[tuple[str, str], ...]
    racy: frozenset[str] = frozenset()
    history_bytes: int = 0
    recovered: tuple[tuple[str, str], ...] = ()

    def with_recovered(self, recovered: dict[str, str]) -> TreeState:
        """The same state with the recovered databases' digests of the check that followed."""
        return TreeState(
            self.taken,
            self.entries,
            self.areas,
            self.racy,
            self.history_bytes,
            tuple(sorted(recovered.items())),
        )


@dataclass(frozen=True, slots=True)
class TreeComparison:
    """The tree after a restart against the state verify checked: `entries` files and
    directories and `environments` recovered database files compared, `changed` what differs
    (areas such as `msgfiles`, 'env/file' of a recovered database, `history`; at most LISTED,
    empty when nothing did), `seconds` the comparison took (the environments' copy and
    recovery included)."""

    entries: int
    environments: int
    changed: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def unchanged(self) -> bool:
        return not self.changed


@dataclass
class _Walk:
    now_ns: int
    hash_racy: frozenset[str] | None = None
    """None: hash what is racy now (taking a state); else hash exactly these (comparing)."""
    entries: int = 0
    racy: set[str] = field(default_factory=set)
    areas: dict[str, hashlib._Hash] = field(default_factory=dict)

    def area(self, name: str) -> hashlib._Hash:
        if name not in self.areas:
            self.areas[name] = hashlib.sha256()
        return self.areas[name]

    def racy_now(self, rel: str, st: os.stat_result) -> bool:
        if self.hash_racy is not None:
            return rel in self.hash_racy
        return st.st_ctime_ns >= self.now_ns - int(RACY_SECONDS * 1e9)


def take(root: Path, history: Path | None = None) -> TreeState:
    """The state of the tree at `root` now (before a check reads it). Streams: memory is one
    digest per area plus the racy files' names. A file that vanishes while it is listed is
    left out (the state then differs from any later one that has it)."""
    now = time.time_ns()
    walk = _Walk(now)
    _visit(walk, str(root), "", None)
    size = history.stat().st_size if history is not None and history.is_file() else 0
    return TreeState(now / 1e9, walk.entries, _digests(walk), frozenset(walk.racy), size)


def compare(root: Path, before: TreeState, history: Path | None = None) -> TreeComparison:
    """The tree at `root` now against `before` (the environments' recovered databases are
    compared by the caller, who recovers them: see `harness.drill.evidence.check_again`).
    The history may have grown by events only (phase marks), never by an operation."""
    started = time.monotonic()
    walk = _Walk(time.time_ns(), hash_racy=before.racy)
    _visit(walk, str(root), "", None)
    now = dict(_digests(walk))
    then = dict(before.areas)
    changed = sorted(a for a in set(now) | set(then) if now.get(a) != then.get(a))
    if history is not None and not _only_events_since(history, before.history_bytes):
        changed.append("history")
    return TreeComparison(
        walk.entries, 0, tuple(changed[:LISTED]), round(time.monotonic() - started, 3)
    )


def differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The recovered database files ('env/file') whose digests differ, or that one side lacks."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _visit(walk: _Walk, directory: str, prefix: str, area: hashlib._Hash | None) -> None:
    """Every entry under `directory` in name order, one line each into its area's digest
    (owner and mode; a file's size, times and inode, and its content when racy; a link's
    target); an environment's directory apart."""
    lines = [prefix]
    below: list[tuple[str, str, hashlib._Hash]] = []
    for entry in _entries(lines, directory):
        name = entry.name
        if area is None and name in SKIPPED:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # vanished while listed: absent from this state
        except OSError as exc:
            lines.append(f"{name}\0error {exc.errno}")
            continue
        walk.entries += 1
        mode = st.st_mode
        text = f"{name}\0{mode:o}\0{st.st_uid}\0{st.st_gid}"
        if stat.S_ISDIR(mode):
            below.append((name, entry.path, _area_of(walk, prefix, name, area)))
        elif stat.S_ISLNK(mode):
            text += f"\0->{Path(entry.path).readlink()}"
        else:
            text += f"\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
            if stat.S_ISREG(mode) and walk.racy_now(prefix + name, st):
                walk.racy.add(prefix + name)
                text += f"\0{_content(entry.path)}"
        lines.append(text)
    (area or walk.area(".")).update("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    for name, path, sub in below:
        if prefix == "db/" and name in ENVIRONMENTS:
            _visit_environment(walk, path, f"db/{name}/", sub)
        else:
            _visit(walk, path, f"{prefix}{name}/", sub)


def _area_of(walk: _Walk, prefix: str, name: str, area: hashlib._Hash | None) -> hashlib._Hash:
    """`msgfiles`, `mta`, `config`, `.firedrill`, ... at the top; `db/<name>` under db."""
    if area is None:
        return walk.area(name) if name != "db" else walk.area("db")
    return walk.area(f"db/{name}") if prefix == "db/" else area


def _visit_environment(walk: _Walk, directory: str, prefix: str, area: hashlib._Hash) -> None:
    """A Berkeley DB environment: its data files by owner and mode only (their content is
    compared after recovery), its logs as one set of owners and modes (a clean restart adds
    and removes logs by design; their sequence is checked again with the recovery), its
    region files (`__db.*`, never read by the check) not at all."""
    lines = [prefix]
    logs: set[str] = set()
    for entry in _entries(lines, directory):
        if entry.name.startswith("__db."):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        except OSError as exc:
            lines.append(f"{entry.name}\0error {exc.errno}")
            continue
        walk.entries += 1
        text = f"{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}"
        if entry.name.startswith("log."):
            logs.add(f"log.*\0{text}")
        else:
            lines.append(f"{entry.name}\0{text}")
    lines += sorted(logs)
    area.update("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")


def _entries(lines: list[str], directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:  # unreadable: that is part of the state, not a crash
        lines.append(f"\0unlisted {exc.errno}")
        return []


def _content(path: str) -> str:
    try:
        with Path(path).open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        return f"unreadable: {type(exc).__name__}"


def _digests(walk: _Walk) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, h.hexdigest()) for name, h in walk.areas.items()))


def _only_events_since(history: Path, offset: int) -> bool:
    try:
        with history.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) < offset:
                return False
            handle.seek(offset)
            for line in handle:
                if line.strip() and json.loads(line).get("type") != "event":
                    return False
    except (OSError, ValueError):
        return False
    return True
