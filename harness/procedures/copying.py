"""Copies and removals inside the sandbox, as the built-in procedures and the flaws make them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.procedures.base import ProcedureContext
from harness.sandbox import require_sandbox

# -- copying ---------------------------------------------------------------------------------


def _no_regions(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("__db.")]


def copy_path(source: Path, target: Path, ctx: ProcedureContext | None = None) -> None:
    """Copy a file or a tree, without Berkeley DB region files (`__db.*`), keeping metadata.

    With a context, a machine crash stops the copy between two files (ProcedureInterrupted).
    """
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = shutil.copy2 if ctx is None else _copy_while_up(ctx)
    if source.is_dir():
        shutil.copytree(
            source,
            target,
            ignore=_no_regions,
            symlinks=True,
            dirs_exist_ok=False,
            copy_function=copy,
        )
    else:
        copy(source, target)


def _copy_while_up(ctx: ProcedureContext) -> Callable[[Path | str, Path | str], object]:
    def copy(source: Path | str, target: Path | str) -> object:
        ctx.still_up()
        return shutil.copy2(source, target)

    return copy


def remove_path(layout: Layout, relative: str) -> None:
    """Remove a path inside the sandbox (refuses anything outside it)."""
    require_sandbox(layout.root)
    path = (layout.root / relative).resolve()
    if layout.root.resolve() not in path.parents:
        raise FiredrillError(f"refusing to remove {path}: outside {layout.root}")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


