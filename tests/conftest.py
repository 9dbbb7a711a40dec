"""Shared fixtures: one golden populated installation per session, copied per test."""

from __future__ import annotations

import shutil
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
