"""The lab's accounts as the workload sees them: directory entries joined with credentials.

The directory is read from a recovered private copy, so this is safe while dirserv runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.checker.databases import items, scratch_copy
from harness.errors import FiredrillError
from harness.layout import Layout
from harness.sandbox import require_installation
from harness.store.records import Account


@dataclass(frozen=True, slots=True)
class LabLogin:
    address: str
    login: str
    password: str
    mailboxid: str
    status: str
    entry_id: str


def lab_passwords(layout: Layout) -> dict[str, str]:
    """entry id -> plaintext password as the harness recorded them (torn lines skipped)."""
    passwords: dict[str, str] = {}
    if layout.credentials.exists():
        with layout.credentials.open() as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                passwords[record["entry_id"]] = record["password"]
    return passwords


def lab_accounts(root: Path) -> list[LabLogin]:
    """Every account of the directory, with the plaintext password the harness kept for it."""
    layout = require_installation(root)
    passwords = lab_passwords(layout)
    with scratch_copy(layout, ("entry",)) as stores:
        if not stores.readable("entry/entry.db"):
            raise FiredrillError(f"cannot read the directory of {root}: run firedrill check")
        accounts = (Account.decode(k, v) for k, v in items(stores.handle("entry", "entry.db")))
        return [
            LabLogin(
                a.address,
                a.login,
                passwords.get(a.entry_id, ""),
                a.mailbox,
                a.status.value,
                a.entry_id,
            )
            for a in accounts
        ]
