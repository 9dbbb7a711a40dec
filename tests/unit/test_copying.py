"""The built-in copies meet a live tree as `cp` and `tar` do: a file or a directory removed
before it was read is left out with a warning, a file that changed while it was read is
copied as read with a warning, and the copy goes on; any other error still fails it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.procedures.base import ProcedureContext
from harness.procedures.copying import copy_path

REAL_COPY = shutil.copy2


def _tree(root: Path) -> Path:
    for name in ("a/1", "a/2", "a/3", "b/4", "c/5"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def _ctx(tmp_path: Path) -> ProcedureContext:
    return ProcedureContext(Layout(tmp_path), cast(Any, None), cast(Any, None), tmp_path)


def _when_copying(name: str, act: Callable[[Path], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Do `act(source)` just before the copy of the file named `name` reads it."""

    def copy2(source: Any, target: Any, **kw: Any) -> Any:
        if Path(source).name == name:
            act(Path(source))
        return REAL_COPY(source, target, **kw)

    monkeypatch.setattr(shutil, "copy2", copy2)


def test_a_file_removed_before_it_is_read_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path / "src")
    ctx = _ctx(tmp_path)
    _when_copying("2", lambda p: p.unlink(), monkeypatch)
    copy_path(src, tmp_path / "dst", ctx)
    copied = sorted(
        p.relative_to(tmp_path / "dst").as_posix() for p in (tmp_path / "dst").rglob("*")
    )
    assert copied == ["a", "a/1", "a/3", "b", "b/4", "c", "c/5"]
    assert ctx.outputs == [f"copy: {src / 'a' / '2'}: file removed before we read it"]


def test_a_directory_removed_while_the_copy_lists_the_tree_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = _tree(tmp_path / "src"), tmp_path / "dst"
    ctx = _ctx(tmp_path)
    removed: list[str] = []

    def copy2(source: Any, target: Any, **kw: Any) -> Any:
        if not removed:  # the first file: remove every directory the copy has not reached
            for top in ("a", "b", "c"):
                if not (dst / top).exists() and Path(source).parent.name != top:
                    shutil.rmtree(src / top)
                    removed.append(top)
        return REAL_COPY(source, target, **kw)

    monkeypatch.setattr(shutil, "copy2", copy2)
    copy_path(src, dst, ctx)
    assert len(removed) == 2
    assert sorted(p.name for p in dst.iterdir()) == sorted({"a", "b", "c"} - set(removed))
    assert sorted(ctx.outputs) == [
        f"copy: {src / d}: file removed before we read it" for d in sorted(removed)
    ]


def test_a_file_that_changes_while_read_is_copied_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path / "src")
    ctx = _ctx(tmp_path)

    def copy2(source: Any, target: Any, **kw: Any) -> Any:
        done = REAL_COPY(source, target, **kw)
        if Path(source).name == "4":
            with Path(source).open("a") as handle:
                handle.write(" and more")
        return done

    monkeypatch.setattr(shutil, "copy2", copy2)
    copy_path(src, tmp_path / "dst", ctx)
    assert (tmp_path / "dst" / "b" / "4").read_text() == "b/4"
    assert ctx.outputs == [f"copy: {src / 'b' / '4'}: file changed as we read it"]


def test_any_other_error_fails_the_copy_after_it_went_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path / "src")

    def refuse(source: Path) -> None:
        raise PermissionError(13, "Permission denied", str(source))

    _when_copying("3", refuse, monkeypatch)
    with pytest.raises(FiredrillError, match=r"a/3: .*Permission denied"):
        copy_path(src, tmp_path / "dst", _ctx(tmp_path))
    assert (tmp_path / "dst" / "c" / "5").is_file()  # it went on first
