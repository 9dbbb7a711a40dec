"""Shared fixtures: one golden populated installation per session, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.populate import populate
from fixtures.tiers import tier
from harness.layout import Layout

GOLDEN_SEED = 7


@pytest.fixture(scope="session")
def golden_s(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """A tier S installation, populated once; tests must copy it before changing anything."""
    root = tmp_path_factory.mktemp("golden") / "S"
    populate(root, tier("S"), GOLDEN_SEED, progress=False)
    return Layout(root)


@pytest.fixture(scope="session")
def golden_xs(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    root = tmp_path_factory.mktemp("golden") / "XS"
    populate(root, tier("XS"), GOLDEN_SEED, progress=False)
    return Layout(root)


@pytest.fixture
def tree_s(golden_s: Layout, tmp_path: Path) -> Layout:
    """A private copy of the golden tier S installation."""
    root = tmp_path / "intermail"
    shutil.copytree(golden_s.root, root, symlinks=True)
    return Layout(root)


@pytest.fixture
def tree_xs(golden_xs: Layout, tmp_path: Path) -> Layout:
    root = tmp_path / "intermail"
    shutil.copytree(golden_xs.root, root, symlinks=True)
    return Layout(root)


@pytest.fixture
def live_xs(tree_xs: Layout) -> Iterator[Layout]:
    """A private XS installation on its own loopback /24 with every server running."""
    from fixtures.topology import relocate
    from harness import control
    from harness.environments.network import lease_network
    from harness.store.config import load, save

    with lease_network() as network:
        save(relocate(load(tree_xs.config), network), tree_xs.config)
        control.start(tree_xs)
        try:
            yield tree_xs
        finally:
            try:
                control.stop(tree_xs)
            finally:
                control.kill(tree_xs)
