"""Copies and removals inside the sandbox, as the built-in procedures and the flaws make them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import require_sandbox

if TYPE_CHECKING:
    from harness.procedures.base import ProcedureContext

# -- copying ---------------------------------------------------------------------------------


def _no_regions(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("__db.")]


def copy_path(
    source: Path,
    target: Path,
    ctx: ProcedureContext | None = None,
    *,
    ignore: Callable[[str, list[str]], Iterable[str]] = _no_regions,
) -> None:
    """Copy a file or a tree, keeping metadata, without what `ignore` leaves out (by default
    Berkeley DB region files, `__db.*`).

    A live tree changes under a copy, and the copy goes on as `cp` and `tar` do: a file or
    directory removed before it was read is left out, one that changed while it was read is
    copied as read, each with a warning (tar's "file removed before we read it", "file
    changed as we read it") in the context's output, which the backup's record keeps. Any
    other error raises FiredrillError when the whole copy is done. With a context, a machine
    crash stops the copy between two files (ProcedureInterrupted).
    """
    warnings = ctx.outputs if ctx is not None else []
    if not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = _live_copy(ctx, warnings)
    if not source.is_dir():
        copy(source, target)
        return
    try:
        shutil.copytree(
            source,
            target,
            ignore=ignore,
            symlinks=True,
            dirs_exist_ok=False,
            copy_function=copy,
        )
    except shutil.Error as exc:
        failed = [e for e in exc.args[0] if not _vanished(e, warnings)]
        if failed:
            src, _, why = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise FiredrillError(f"copy of {source}: {src}: {why}{more}") from None


def _vanished(error: tuple[str, str, str], warnings: list[str]) -> bool:
    """A copytree error whose source is gone (a directory removed while the copy listed
    it): noted as a warning, not an error."""
    src = error[0]
    if os.path.lexists(src):
        return False
    warnings.append(f"copy: {src}: file removed before we read it")
    return True


def _live_copy(
    ctx: ProcedureContext | None, warnings: list[str]
) -> Callable[[Path | str, Path | str], object]:
    """`shutil.copy2` that tells a vanished or changing source from a failure."""

    def copy(source: Path | str, target: Path | str) -> object:
        if ctx is not None:
            ctx.still_up()
        try:
            before = Path(source).stat(follow_symlinks=False)
            shutil.copy2(source, target, follow_symlinks=False)
            after = Path(source).stat(follow_symlinks=False)
        except FileNotFoundError:
            if os.path.lexists(source):
                raise
            warnings.append(f"copy: {source}: file removed before we read it")
            return target
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            warnings.append(f"copy: {source}: file changed as we read it")
        return target

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
