"""Where everything lives inside one simulated InterMail installation (`$INTERMAIL`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MARKER = ".firedrill-sandbox"
"""The sandbox marker: destructive operations refuse any tree without it."""

HARNESS_DIR = ".firedrill"
"""Harness-private state inside the sandbox (lab credentials, population facts); not InterMail's."""

ENVIRONMENTS = ("mbox", "msgid", "entry", "index")
"""The Berkeley DB transactional environments under db/."""

BACKUP_PATHS = (
    "msgfiles",
    "db/mbox",
    "db/msgid",
    "db/entry",
    "db/index",
    "db/dircache",
    "mta/spool",
    "config/config.db",
)
"""What chapter 13.4 says a mail system backup copies, relative to `$INTERMAIL`."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one installation tree rooted at `root`."""

    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def harness(self) -> Path:
        return self.root / HARNESS_DIR

    @property
    def credentials(self) -> Path:
        return self.harness / "credentials.jsonl"

    @property
    def population(self) -> Path:
        return self.harness / "population.json"

    @property
    def msgfiles(self) -> Path:
        return self.root / "msgfiles"

    @property
    def db(self) -> Path:
        return self.root / "db"

    def env(self, name: str) -> Path:
        """The directory of Berkeley DB environment `name` (one of ENVIRONMENTS)."""
        return self.db / name

    @property
    def dircache(self) -> Path:
        return self.db / "dircache"

    @property
    def spool(self) -> Path:
        return self.root / "mta" / "spool"

    @property
    def config(self) -> Path:
        return self.root / "config" / "config.db"

    @property
    def run(self) -> Path:
        """pid and lock files of running servers."""
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    def directories(self) -> tuple[Path, ...]:
        """Every directory the tree is made of, parents first."""
        return (
            self.harness,
            self.msgfiles,
            self.db,
            *(self.env(name) for name in ENVIRONMENTS),
            self.dircache,
            self.spool,
            self.config.parent,
            self.run,
            self.logs,
        )
