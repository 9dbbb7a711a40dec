"""The sandbox rule: firedrill writes and destroys only inside trees it created.

A tree is a sandbox when it carries the marker file `.firedrill-sandbox` written by
`firedrill init`. A command that writes refuses a root that exists, is not empty and has no
marker, before touching anything.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from harness import __version__
from harness.errors import NotAnInstallation, SandboxRefused
from harness.layout import Layout

DRILL_LOCK = ".firedrill-drill.lock"
"""In a drill sandbox's work directory (the parent of its installation): locked (flock) by the
run that uses it, for as long as it lives (a killed run's lock goes with its process);
`firedrill cleanup` removes a sandbox only when nobody holds it."""
KEPT = ".firedrill-kept"
"""In a drill sandbox's work directory: the run ended and the operator asked to keep the tree
(`--keep`): `firedrill cleanup` leaves it (remove it by hand when done)."""


def is_sandbox(root: Path) -> bool:
    """True when `root` carries the marker firedrill writes when it creates a tree."""
    return (root / Layout(root).marker.name).is_file()


def claim(root: Path) -> Layout:
    """Return the layout of `root` for writing, creating it (and its marker) when absent or empty.

    Raises SandboxRefused when the root exists with content but no marker, or is not a directory.
    """
    root = root.absolute()
    layout = Layout(root)
    if root.exists() and not root.is_dir():
        raise SandboxRefused(f"refusing {root}: it exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not is_sandbox(root):
        raise SandboxRefused(
            f"refusing {root}: it is not empty and has no {layout.marker.name} marker "
            "(firedrill only writes inside trees it created)"
        )
    if not is_sandbox(root):
        root.mkdir(parents=True, exist_ok=True)
        payload = {"created_by": "firedrill", "version": __version__, "created": time.time()}
        tmp = layout.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload) + "\n")
        os.replace(tmp, layout.marker)
    return layout


def require_sandbox(root: Path) -> Layout:
    """Return the layout of an existing sandbox; refuse anything else (for destructive steps)."""
    root = root.absolute()
    _require_directory(root)
    if not is_sandbox(root):
        raise SandboxRefused(
            f"refusing {root}: it has no {Layout(root).marker.name} marker "
            "(firedrill only writes inside trees it created)"
        )
    return Layout(root)


def require_installation(root: Path) -> Layout:
    """Return the layout of an existing installation for reading (no marker needed)."""
    root = root.absolute()
    layout = Layout(root)
    _require_directory(root)
    if not any(p.exists() for p in (layout.marker, layout.db, layout.msgfiles, layout.config)):
        raise NotAnInstallation(
            f"no installation at {root}: none of {layout.marker.name}, db/, msgfiles/, "
            "config/config.db is there"
        )
    return layout


def _require_directory(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise NotAnInstallation(f"no installation at {root}: it is not a directory")
    if not root.is_dir():
        raise NotAnInstallation(f"no installation at {root}: the directory does not exist")


def init_tree(root: Path) -> Layout:
    """Create the installation tree under `root` (idempotent inside a sandbox)."""
    layout = claim(root)
    for directory in layout.directories():
        directory.mkdir(parents=True, exist_ok=True)
    return layout


def wipe(layout: Layout) -> None:
    """Remove everything inside a sandbox except its marker (refuses non-sandboxes)."""
    import shutil

    require_sandbox(layout.root)
    for child in layout.root.iterdir():
        if child.name == layout.marker.name:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
