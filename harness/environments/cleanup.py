"""`firedrill cleanup`: what drills that were killed (kill -9, a lost machine) left behind.

Containers carrying a firedrill run label, and drill sandboxes in the temporary directory
(`firedrill-<scenario>-*` holding a tree with the sandbox marker) whose servers are all gone.
Nothing else is touched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness import control
from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import is_sandbox
from harness.topology import PROGRAMS


def _stale_sandboxes() -> list[Path]:
    stale = []
    for work in Path(tempfile.gettempdir()).glob("firedrill-*"):
        tree = work / "intermail"
        if not (work.is_dir() and tree.is_dir() and is_sandbox(tree)):
            continue  # only the work trees of drills, marked as firedrill's sandboxes
        if any(control.running_pid(Layout(tree), p) for p in PROGRAMS):
            continue  # a drill is running there
        stale.append(work)
    return stale


def cleanup(*, docker: bool = True) -> list[str]:
    removed: list[str] = []
    if docker:
        try:  # the docker SDK loads only when containers are looked for (its cost, not a cycle)
            from harness.environments.containers import docker_client, remove_run

            removed += [f"container {name}" for name in remove_run(docker_client())]
        except FiredrillError:
            pass  # no engine: no containers to remove
    for work in _stale_sandboxes():
        shutil.rmtree(work, ignore_errors=True)
        removed.append(f"sandbox {work}")
    return removed
