"""db/dircache is disposable: gone is clean, stale or garbage is one warning (never a violation),
and the directory (dirserv at start) creates it again and refills it on lookups."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from berkeleydb import db

from harness.checker import findings as F
from harness.checker.run import run_check
from harness.cli.firedrill import main
from harness.layout import Layout
from harness.store.directory import DIRCACHE_FILE, Directory, read_cache

pytestmark = pytest.mark.integration


def _cache(layout: Layout) -> Path:
    return layout.dircache / DIRCACHE_FILE


def _cached(layout: Layout) -> dict[str, bytes]:
    return dict(read_cache(_cache(layout)))


def _check(layout: Layout) -> tuple[list[tuple[type[F.Finding], str]], int]:
    """(kind, id) of every finding, and the exit code of `firedrill check`."""
    report = run_check(layout.root)
    assert report.errors == ()
    code = main(["check", "--root", str(layout.root), "--quiet"])
    return [(type(f), f.subject) for f in report.findings], code


def test_the_golden_tree_has_a_cache_that_checks_clean(tree_xs: Layout) -> None:
    assert len(_cached(tree_xs)) >= 2
    assert _check(tree_xs) == ([], 0)


def test_a_deleted_dircache_checks_clean(tree_xs: Layout) -> None:
    shutil.rmtree(tree_xs.dircache)
    assert _check(tree_xs) == ([], 0)


def test_one_stale_cache_entry_is_one_warning_and_exit_0(tree_xs: Layout) -> None:
    cached = _cached(tree_xs)
    address, other = sorted(cached)[:2]
    cache = db.DB()
    cache.open(str(_cache(tree_xs)), dbtype=db.DB_HASH)
    cache.put(address.encode(), cached[other])  # the entry of another account
    cache.close()
    findings, code = _check(tree_xs)
    assert findings == [(F.DircacheStale, address)] and code == 0
    assert F.DircacheStale.severity is F.Severity.WARNING


@pytest.mark.parametrize("garbage", [b"", b"\x5a" * 5000], ids=["empty", "noise"])
def test_a_garbage_dircache_is_one_warning_and_exit_0(tree_xs: Layout, garbage: bytes) -> None:
    _cache(tree_xs).write_bytes(garbage)
    assert _check(tree_xs) == ([(F.DircacheStale, f"db/dircache/{DIRCACHE_FILE}")], 0)


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_the_directory_builds_the_cache_again_on_open_and_lookups(
    tree_xs: Layout, damage: str
) -> None:
    wanted = sorted(_cached(tree_xs))[0]
    if damage == "deleted":
        shutil.rmtree(tree_xs.dircache)
    else:
        _cache(tree_xs).write_bytes(b"\x5a" * 5000)
    with Directory(tree_xs) as directory:
        directory.open_cache()
        assert _cache(tree_xs).is_file()
        account = directory.resolve(wanted)
        assert account is not None
    assert _cached(tree_xs) == {wanted: account.encode()}
    assert _check(tree_xs) == ([], 0)


@pytest.fixture
def leased_xs(tree_xs: Layout) -> Iterator[Layout]:
    """tree_xs on its own loopback /24, its servers killed afterwards (none started here)."""
    from fixtures.topology import relocate
    from harness import control
    from harness.environments.network import lease_network
    from harness.store.config import load, save

    with lease_network() as network:
        save(relocate(load(tree_xs.config), network), tree_xs.config)
        try:
            yield tree_xs
        finally:
            control.kill(tree_xs)


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_dirserv_starts_with_a_lost_or_garbage_cache_and_refills_it(
    leased_xs: Layout, damage: str
) -> None:
    from harness import control
    from harness.servers.wire import SyncWireClient
    from harness.store.config import load
    from harness.topology import endpoint

    wanted = sorted(_cached(leased_xs))[0]
    if damage == "deleted":
        shutil.rmtree(leased_xs.dircache)
    else:
        _cache(leased_xs).write_bytes(b"\x5a" * 5000)
    control.start(leased_xs, ["dirserv"])
    where = endpoint(load(leased_xs.config), "dirserv")
    reply = SyncWireClient(where.address, where.port).call("lookup", address=wanted)
    assert reply.result["address"] == wanted
    control.stop(leased_xs, ["dirserv"])
    assert list(_cached(leased_xs)) == [wanted]
    assert _check(leased_xs) == ([], 0)
