"""The lab's accounts as the workload sees them: directory entries joined with credentials."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from harness.sandbox import require_installation
from harness.store.directory import Directory


@dataclass(frozen=True, slots=True)
class LabLogin:
    address: str
    login: str
    password: str
    mailboxid: str
    status: str
    entry_id: str


def lab_accounts(root: Path) -> list[LabLogin]:
    """Every account of the directory, with the plaintext password the harness kept for it."""
    layout = require_installation(root)
    passwords: dict[str, str] = {}
    if layout.credentials.exists():
        with layout.credentials.open() as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    passwords[record["entry_id"]] = record["password"]
    with Directory(layout) as directory:
        return [
            LabLogin(
                a.address,
                a.login,
                passwords.get(a.entry_id, ""),
                a.mailbox,
                a.status.value,
                a.entry_id,
            )
            for a in directory.accounts()
        ]
