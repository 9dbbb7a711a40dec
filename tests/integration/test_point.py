"""The harness's copy of the consistency point (harness.procedures.point): taken while every
server is down, it holds what a manifest reads and gives the manifest of the quiesced tree;
a copy during which a server came back does not count."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from harness.layout import Layout
from harness.manifest import write_manifest
from harness.procedures.point import SNAPSHOT_PATHS, PointCopier

pytestmark = pytest.mark.integration


class Servers:
    """A backend whose servers are down, or come back (`up`) once the copy has begun."""

    def __init__(self, *, comes_back: bool) -> None:
        self.comes_back = comes_back

    def running(self) -> bool:
        return self.comes_back


def test_a_server_seen_back_voids_only_the_copies_still_running(
    tree_xs: Layout, tmp_path: Path
) -> None:
    """The watch's word that a server came back voids a copy under way; a copy already done
    stays as it was, and the next quiet period's copy starts clean."""
    copier = _copy(tree_xs, tmp_path, comes_back=False)
    copier.server_back()
    copier.begin(1)
    copier.close()
    first, second = copier.for_period(0), copier.for_period(1)
    assert first is not None and first.valid and second is not None and second.valid
    running = PointCopier(tree_xs, cast(Any, Servers(comes_back=False)), tmp_path / "again")
    running.begin(0)
    running.server_back()  # while its copy may still run: void, unless it had finished
    running.close()
    snapshot = running.for_period(0)
    assert snapshot is not None and (snapshot.valid != snapshot.restarted.is_set())


def _copy(tree: Layout, tmp_path: Path, *, comes_back: bool) -> PointCopier:
    copier = PointCopier(tree, cast(Any, Servers(comes_back=comes_back)), tmp_path / "point")
    copier.begin(0)
    copier.close()
    return copier


def test_a_copy_of_the_quiet_tree_gives_the_tree_s_manifest(
    tree_xs: Layout, tmp_path: Path
) -> None:
    copier = _copy(tree_xs, tmp_path, comes_back=False)
    snapshot = copier.for_period(0)
    assert snapshot is not None and snapshot.valid, snapshot
    assert all((snapshot.root / p).exists() for p in SNAPSHOT_PATHS if (tree_xs.root / p).exists())
    assert not (snapshot.root / "msgfiles").exists()  # digests come from the msgid records
    point, tree = tmp_path / "point.manifest", tmp_path / "tree.manifest"
    write_manifest(snapshot.root, point)
    write_manifest(tree_xs.root, tree)
    # the same records; only the header line (root, time) differs
    assert point.read_text().splitlines()[1:] == tree.read_text().splitlines()[1:]
    copier.discard()
    assert not snapshot.root.exists()


def test_a_copy_a_server_came_back_during_does_not_count(tree_xs: Layout, tmp_path: Path) -> None:
    snapshot = _copy(tree_xs, tmp_path, comes_back=True).for_period(0)
    assert snapshot is not None and not snapshot.valid
    assert snapshot.why == "a server came back while the consistency point was copied"
