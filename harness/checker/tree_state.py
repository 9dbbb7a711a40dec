"""What a clean restart may have changed: the state of a tree, taken before verify's offline
check read it, compared with the same tree after the restart (invariant 10's second half).

The offline check is a function of what it reads: the recovered Berkeley DB databases, the
message files, the spool, config.db, the directory cache and the harness's own files beside
them (and the history and manifest, which the drill does not change after verify but for
phase marks). When all of that is the same after the restart, every finding of verify's
check stands unchanged, and only what the restart does change by design is checked again:
the environments' logs (a clean stop and start appends checkpoint records and may remove
logs no longer needed), so the environments are copied, verified and recovered again
(invariant 5) and the recovered databases are compared with the ones verify's check read,
byte for byte (sha256). Anything else that differs sends the drill back to the whole check.

Files are compared by their status, as git compares its index with the work tree: size,
modification and change times (ns), inode, mode, owner and group. The change time cannot be
set back by a program (`utime` sets it to now), so a write, a rename over the file or a chmod
shows. A file changed within `RACY_SECONDS` of the newest change the walk saw (or of now,
whichever is earlier: the file system's clock may lag this machine's) may change again in
the same clock tick without its times moving ("racily clean", git's term): its content is
hashed as well, then and after the restart.

What the walk cannot vouch for makes the state incomplete, and an incomplete state is never
unchanged: a symbolic link (the check reads through it, the walk does not follow it), an
entry it cannot list or stat (a directory the harness's user may traverse but not list).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.layout import ENVIRONMENTS

RACY_SECONDS = 2.0
"""A file changed within this many seconds of the walk's clock is also hashed: covers clock
ticks of a few ms (ext4, xfs, tmpfs) and file systems that keep whole seconds."""

SKIPPED = frozenset({"run", "log"})
"""Top-level directories the offline check never reads: the servers' pid, lock and log files."""

HISTORY_EVENTS = frozenset({"phase"})
"""What the history may gain between verify and the restart's check: phase marks."""

LISTED = 20
"""A comparison names at most this many things that changed."""


@dataclass(frozen=True, slots=True)
class TreeState:
    """The status of every file the offline check reads, one sha256 per area (`msgfiles`,
    `db/<environment>`, `db/dircache`, `mta/spool`, `config`, `.firedrill`, `.` for the top
    level), with `taken` the wall-clock time (seconds since the epoch) it was taken,
    `entries` the files and directories listed, `racy` the files also hashed (relative
    paths), `incomplete` why the walk cannot vouch for the tree ("" when it can), the
    history's size and sha256 then, and `recovered` the sha256 of each recovered database
    file ('env/file') that verify's check read (`CheckReport.recovered`)."""

    taken: float
    entries: int
    areas: tuple[tuple[str, str], ...]
    racy: tuple[str, ...] = ()
    incomplete: str = ""
    history: tuple[int, str] = (0, "")
    recovered: tuple[tuple[str, str], ...] = ()

    def with_recovered(self, recovered: dict[str, str]) -> TreeState:
        """The same state with the recovered databases' digests of the check that followed."""
        return TreeState(
            self.taken,
            self.entries,
            self.areas,
            self.racy,
            self.incomplete,
            self.history,
            tuple(sorted(recovered.items())),
        )


@dataclass(frozen=True, slots=True)
class TreeComparison:
    """The tree after a restart against the state verify checked: `entries` files and
    directories and `environments` recovered database files compared, `changed` what differs
    (areas such as `msgfiles`, 'env/file' of a recovered database, `history`, or why the
    walk could not vouch for the tree; at most LISTED, empty when nothing did), `seconds` the
    comparison took (the environments' copy and recovery included)."""

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
    hash_racy: tuple[str, ...] | None = None
    """None: find what is racy (taking a state); else hash exactly these (comparing)."""
    entries: int = 0
    incomplete: str = ""
    newest_ns: int = 0
    recent: list[tuple[int, str, str]] = field(default_factory=list)
    """A heap of (ctime, rel, path) of the files that may be racy, oldest on top."""
    areas: dict[str, hashlib._Hash] = field(default_factory=dict)

    def area(self, name: str) -> hashlib._Hash:
        if name not in self.areas:
            self.areas[name] = hashlib.sha256()
        return self.areas[name]

    def unvouched(self, why: str) -> None:
        self.incomplete = self.incomplete or why

    def seen(self, rel: str, path: str, ctime_ns: int) -> None:
        """A regular file's change time: keep it while it may be racy."""
        if self.hash_racy is not None:
            return
        self.newest_ns = max(self.newest_ns, ctime_ns)
        heapq.heappush(self.recent, (ctime_ns, rel, path))
        while self.recent and self.recent[0][0] < self._threshold():
            heapq.heappop(self.recent)

    def _threshold(self) -> int:
        return min(self.now_ns, self.newest_ns) - int(RACY_SECONDS * 1e9)

    def racy(self) -> list[tuple[str, str]]:
        """(rel, path) of the files to hash, in name order."""
        if self.hash_racy is not None:
            return [(rel, rel) for rel in self.hash_racy]
        return sorted((rel, path) for c, rel, path in self.recent if c >= self._threshold())


def _status(st: os.stat_result) -> str:
    """A file's status as compared: size, modification and change times (ns), inode."""
    return f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"


def take(root: Path, history: Path | None = None) -> TreeState:
    """The state of the tree at `root` now (before a check reads it). Streams: memory is one
    digest per area plus the files that may be racy. Never raises: what cannot be read
    leaves the state incomplete."""
    now = time.time_ns()
    walk = _Walk(now)
    _visit(walk, str(root), "", None)
    racy = walk.racy()
    areas = _digests(walk, root, racy)
    return TreeState(
        now / 1e9,
        walk.entries,
        areas,
        tuple(rel for rel, _ in racy),
        walk.incomplete,
        _history(history),
    )


def compare(root: Path, before: TreeState, history: Path | None = None) -> TreeComparison:
    """The tree at `root` now against `before` (the environments' recovered databases are
    compared by the caller, who recovers them: see `harness.drill.evidence.check_again`).
    The history may have grown by phase marks only. Never raises."""
    started = time.monotonic()
    walk = _Walk(time.time_ns(), hash_racy=before.racy)
    _visit(walk, str(root), "", None)
    now = dict(_digests(walk, root, walk.racy()))
    then = dict(before.areas)
    changed = [why for why in (before.incomplete, walk.incomplete) if why]
    changed += sorted(a for a in set(now) | set(then) if now.get(a) != then.get(a))
    if history is not None and not _grown_by_events(history, before.history):
        changed.append("history")
    return TreeComparison(
        walk.entries, 0, tuple(changed[:LISTED]), round(time.monotonic() - started, 3)
    )


def differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The recovered database files ('env/file') whose digests differ, or that one side lacks."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _visit(walk: _Walk, directory: str, prefix: str, area: hashlib._Hash | None) -> None:
    """Every entry under `directory` in name order, one line each into its area's digest
    (owner and mode; a file's status); an environment's directory apart."""
    lines = [prefix]
    below: list[tuple[str, str, hashlib._Hash]] = []
    for entry in _entries(walk, directory, prefix):
        name = entry.name
        if area is None and name in SKIPPED:
            continue
        st = _stat(walk, entry, prefix)
        if st is None:
            continue
        mode = st.st_mode
        text = f"{name}\0{mode:o}\0{st.st_uid}\0{st.st_gid}"
        if stat.S_ISDIR(mode):
            below.append((name, entry.path, _area_of(walk, prefix, name, area)))
        elif stat.S_ISLNK(mode):
            walk.unvouched(f"{prefix}{name} is a symbolic link (the check reads through it)")
        else:
            text += f"\0{_status(st)}"
            if stat.S_ISREG(mode):
                walk.seen(prefix + name, entry.path, st.st_ctime_ns)
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
        return walk.area(name)
    return walk.area(f"db/{name}") if prefix == "db/" else area


def _visit_environment(walk: _Walk, directory: str, prefix: str, area: hashlib._Hash) -> None:
    """A Berkeley DB environment: its data files by owner and mode only (their content is
    compared after recovery), its logs as one set of owners and modes (a clean restart adds
    and removes logs by design; their sequence is checked again with the recovery), its
    region files (`__db.*`, never read by the check) not at all."""
    lines = [prefix]
    logs: set[str] = set()
    for entry in _entries(walk, directory, prefix):
        if entry.name.startswith("__db."):
            continue
        st = _stat(walk, entry, prefix)
        if st is None:
            continue
        if stat.S_ISLNK(st.st_mode):
            walk.unvouched(f"{prefix}{entry.name} is a symbolic link (the check reads through it)")
        text = f"{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}"
        if entry.name.startswith("log."):
            logs.add(f"log.*\0{text}")
        else:
            lines.append(f"{entry.name}\0{text}")
    lines += sorted(logs)
    area.update("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")


def _stat(walk: _Walk, entry: os.DirEntry[str], prefix: str) -> os.stat_result | None:
    """An entry's status, counted; None when it vanished while listed (absent from this
    state) or cannot be read (the state is then incomplete)."""
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        walk.unvouched(f"{prefix}{entry.name} cannot be read ({exc.strerror})")
        return None
    walk.entries += 1
    return st


def _entries(walk: _Walk, directory: str, prefix: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        walk.unvouched(f"{prefix or './'} cannot be listed ({exc.strerror})")
        return []


def _digests(walk: _Walk, root: Path, racy: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Each area's digest, the racy files' contents added to their areas (in name order)."""
    for rel, _ in racy:
        parts = rel.split("/")
        name = "." if len(parts) == 1 else "/".join(parts[:2]) if parts[0] == "db" else parts[0]
        walk.area(name).update(f"{rel}\0{_content(walk, root / rel)}\n".encode())
    return tuple(sorted((name, h.hexdigest()) for name, h in walk.areas.items()))


def _content(walk: _Walk, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        return "gone"
    except OSError as exc:
        walk.unvouched(f"{path.name} cannot be read ({exc.strerror})")
        return "unreadable"


def _history(history: Path | None) -> tuple[int, str]:
    """The history's size and sha256 (0, "" without one)."""
    if history is None:
        return (0, "")
    try:
        data = history.read_bytes()
    except OSError:
        return (0, "")
    return (len(data), hashlib.sha256(data).hexdigest())


def _grown_by_events(history: Path, before: tuple[int, str]) -> bool:
    """The history still begins with what it held (size, digest) and has grown by phase
    marks only."""
    size, digest = before
    try:
        data = history.read_bytes()
    except OSError:
        return False
    if len(data) < size or hashlib.sha256(data[:size]).hexdigest() != (digest or _empty()):
        return False
    for line in data[size:].splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return False
        if not isinstance(record, dict) or record.get("type") != "event":
            return False
        if record.get("kind") not in HISTORY_EVENTS:
            return False
    return True


def _empty() -> str:
    return hashlib.sha256(b"").hexdigest()
