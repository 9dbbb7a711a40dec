"""`firedrill cleanup`: what drills that were killed (kill -9, a lost machine) left behind.

A drill sandbox is a directory `firedrill-<scenario>-*` in the temporary directory holding an
`intermail/` tree with the sandbox marker. It is stale when no live run holds its lock
(DRILL_LOCK, flock'ed by the run for its whole life: populate and backups included, when no
server runs); an older sandbox without that file is stale when none of its servers runs. The
servers a stale sandbox still has (a drill killed with kill -9 leaves them running) are
stopped, then killed, and the sandbox is removed. Containers of firedrill runs are removed
when their installation root (label) is in a stale sandbox or no longer exists: a live
drill's are left alone. Nothing else is touched, and nothing is followed through a symlink.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import control
from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import DRILL_LOCK, KEPT, is_sandbox
from harness.topology import PROGRAMS


@dataclass(frozen=True, slots=True)
class _Stale:
    """A stale sandbox, held by this cleanup while it works on it (`lock`: its DRILL_LOCK,
    taken; None for an older sandbox without one)."""

    work: Path
    layout: Layout
    lock: int | None


def _drill_sandboxes() -> Iterator[tuple[Path, Layout]]:
    """The drill sandboxes in the temporary directory (symlinks and other users' unreadable
    ones are not looked into)."""
    for work in sorted(Path(tempfile.gettempdir()).glob("firedrill-*")):
        tree = work / "intermail"
        try:
            if work.is_symlink() or not work.is_dir() or tree.is_symlink() or not tree.is_dir():
                continue
            if not is_sandbox(tree):
                continue  # only the work trees of drills, marked as firedrill's sandboxes
            if (work / KEPT).exists():
                continue  # kept on purpose (`run --keep`)
        except OSError:
            continue
        yield work, Layout(tree)


def _serves(layout: Layout) -> bool:
    return any(control.running_pid(layout, p) for p in PROGRAMS)


def _claim(work: Path, layout: Layout) -> _Stale | None:
    """The sandbox, its lock taken, when no live run holds it; None when a run lives there (or
    its lock file is not one firedrill made: then it is left alone)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(work / DRILL_LOCK, flags)
    except FileNotFoundError:  # made before sandboxes were locked: stale once nothing serves
        try:
            return None if _serves(layout) else _Stale(work, layout, None)
        except OSError:
            return None
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return _Stale(work, layout, fd)
    except OSError:
        pass  # held: a run lives there
    os.close(fd)
    return None


def _stop(layout: Layout) -> None:
    """Stop the servers a stale sandbox still has (resumed first, in case a hang fault had
    paused them), and kill those that do not stop. Only processes whose command line names
    this installation are signalled (harness.control)."""
    try:
        control.resume(layout)
        control.stop(layout)
    except FiredrillError:
        pass
    control.kill(layout)


def _gone(root: Path) -> bool:
    try:
        os.lstat(root)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # out of this user's reach: not known to be gone
    return False


def _remove_containers(stale_roots: set[Path]) -> list[str]:
    """Remove the containers of runs whose installation is in a stale sandbox or gone."""
    try:  # the docker SDK loads only when containers are looked for (its cost, not a cycle)
        from harness.environments.containers import docker_client, remove_abandoned

        client = docker_client()
    except FiredrillError:
        return []  # no engine: no containers to remove
    return [
        f"container {name}"
        for name in remove_abandoned(client, lambda root: root in stale_roots or _gone(root))
    ]


def cleanup(*, docker: bool = True) -> list[str]:
    """Remove what killed drills left behind (see the module docstring); what was removed."""
    stale = [s for work, layout in _drill_sandboxes() if (s := _claim(work, layout))]
    removed: list[str] = []
    try:
        for sandbox in stale:
            _stop(sandbox.layout)
        if docker:
            removed += _remove_containers({s.layout.root for s in stale})
        for sandbox in stale:
            if _serves(sandbox.layout):
                continue  # a server that would not stop: its tree stays
            shutil.rmtree(sandbox.work, ignore_errors=True)
            removed.append(f"sandbox {sandbox.work}")
    finally:
        for sandbox in stale:
            if sandbox.lock is not None:
                os.close(sandbox.lock)
    return removed
