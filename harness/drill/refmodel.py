"""The reference model of a sequence: what the installation must hold after every step.

Pure data, no I/O: the stepper changes it only when the real system acknowledged the step,
snapshots it at a backup and goes back to the snapshot at a restore.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class MessageModel:
    message_id: str
    flags: set[str] = field(default_factory=set)
    body: bytes = b""
    """The octets the sequence delivered (empty for population mail: only its id is known)."""
    corrupt: bool = False


@dataclass
class AccountModel:
    address: str
    login: str
    password: str
    provisioned: bool = False
    messages: list[MessageModel] = field(default_factory=list)

    def healthy(self) -> list[MessageModel]:
        return [m for m in self.messages if not m.corrupt]

    def delivered(self) -> list[MessageModel]:
        """Healthy messages the sequence delivered (the ones it may corrupt)."""
        return [m for m in self.messages if m.body and not m.corrupt]


@dataclass
class Model:
    accounts: list[AccountModel] = field(default_factory=list)
    """Live accounts, in the order actors index them."""
    gone: list[AccountModel] = field(default_factory=list)
    """Deleted accounts: their logins must be refused."""
    config: dict[str, str] = field(default_factory=dict)
    """Config keys the sequence set, with their values."""
    damage: set[tuple[str, str]] = field(default_factory=set)
    """(finding kind, id) the checker must report: the corruption the sequence inflicted."""

    def actor(self, index: int) -> AccountModel:
        return self.accounts[index % len(self.accounts)]

    def address_known(self, address: str) -> bool:
        return any(a.address == address for a in self.accounts)

    def snapshot(self) -> Model:
        return copy.deepcopy(self)
