"""The backend capability a disaster asks for, or MissingCapability naming what it needs."""

from __future__ import annotations

from harness.environments.backend import Backend, DiskLosable, Killable, MissingCapability, Pausable


def killable(backend: Backend, kind: str) -> Killable:
    if not isinstance(backend, Killable):
        raise MissingCapability(backend.name, Killable, f"the {kind} disaster")
    return backend


def pausable(backend: Backend, kind: str) -> Pausable:
    if not isinstance(backend, Pausable):
        raise MissingCapability(backend.name, Pausable, f"the {kind} disaster")
    return backend


def disk_losable(backend: Backend, kind: str) -> DiskLosable:
    if not isinstance(backend, DiskLosable):
        raise MissingCapability(backend.name, DiskLosable, f"the {kind} disaster")
    return backend
