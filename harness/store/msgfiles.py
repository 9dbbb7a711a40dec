"""The Message File System: one file per message under msgfiles/<h1>/<h2>/<id>, single-instance.

A message file is written under a temporary name (`.<id>.tmp` in the same directory), made
durable, then renamed into place; only then may a msgid record point at it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"
CHUNK = 1024 * 1024


def relpath(msgid: str) -> str:
    """Path of message `msgid` relative to msgfiles/."""
    return f"{msgid[0:2]}/{msgid[2:4]}/{msgid}"


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, streamed in 1 MiB chunks."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


@dataclass(frozen=True, slots=True)
class Staged:
    """A message file written under its temporary name, not yet visible."""

    msgid: str
    tmp: Path
    final: Path
    size: int
    digest: str


class MessageFiles:
    """The msgfiles/ tree of one installation."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, msgid: str) -> Path:
        return self.root / relpath(msgid)

    def stage(self, msgid: str, data: bytes, *, fsync: bool = True) -> Staged:
        """Write `data` under the temporary name of `msgid`, fsynced unless the caller batches."""
        final = self.path(msgid)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f"{TMP_PREFIX}{msgid}{TMP_SUFFIX}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return Staged(msgid, tmp, final, len(data), digest_bytes(data))

    @staticmethod
    def publish(staged: Staged) -> None:
        """Rename a staged (already durable) file into place."""
        os.replace(staged.tmp, staged.final)

    def remove(self, msgid: str) -> None:
        try:
            self.path(msgid).unlink()
        except FileNotFoundError:
            pass

    def walk(self) -> Iterator[Path]:
        """Every file under msgfiles/, temporary ones included, in a stable order."""
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                yield Path(dirpath) / name


def is_temporary(path: Path) -> bool:
    return path.name.startswith(TMP_PREFIX) and path.name.endswith(TMP_SUFFIX)
