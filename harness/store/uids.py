"""The rules of the numbers clients cache: IMAP UIDVALIDITY and POP3 unique-ids (UIDL).

RFC 3501 §2.3.1.1: a UID names one message for as long as the folder keeps its UIDVALIDITY; a
server that cannot keep its UIDs (db/mbox restored from a backup rewinds each folder's UIDNEXT)
must give the folder a new, greater UIDVALIDITY so that caching clients resynchronise.
`next_uidvalidity` is that rule; `MessageStore.renew_uidvalidity` applies it to every folder
(`imboxmaint newuidvalidity`).

POP3 unique-ids (RFC 1939 §7) are derived from those two numbers, like Dovecot's default
`pop3_uidl_format = %08Xu%08Xv`: a new UIDVALIDITY starts a fresh UIDL epoch (every message
gets a new unique-id, clients that leave mail on the server download it again once), and a
rewound UIDNEXT without one makes new mail reuse a unique-id a client already saw. `uidl` is the
one place the format lives: the POP3 server and the checkers import it.
"""

from __future__ import annotations

from harness.errors import StoreError

UID_MAX = 0xFFFFFFFF
"""UIDs and UIDVALIDITY are 32-bit non-zero numbers (RFC 3501 §9, `nz-number`)."""


def uidl(uid: int, uidvalidity: int) -> str:
    """The POP3 unique-id of message `uid` of a folder whose UIDVALIDITY is `uidvalidity`: 8
    upper-case hex digits of the UID, then 8 of the UIDVALIDITY (Dovecot's `%08Xu%08Xv`), 16
    characters of 0-9A-F (RFC 1939 §7: 0x21-0x7E, at most 70).

    `uidvalidity` 0 stands for a folder without its record (a damaged store still served).
    Raises StoreError when `uid` is not in 1..UID_MAX or `uidvalidity` not in 0..UID_MAX.
    """
    if not 0 < uid <= UID_MAX:
        raise StoreError(f"UID {uid} is not a 32-bit non-zero number")
    if not 0 <= uidvalidity <= UID_MAX:
        raise StoreError(f"UIDVALIDITY {uidvalidity} is not a 32-bit number")
    return f"{uid:08X}{uidvalidity:08X}"


def parse_uidl(unique_id: str) -> tuple[int, int] | None:
    """The (UID, UIDVALIDITY) a unique-id made by `uidl` names; None for any other string."""
    if len(unique_id) != 16 or not all(c in "0123456789ABCDEF" for c in unique_id):
        return None
    uid, uidvalidity = int(unique_id[:8], 16), int(unique_id[8:], 16)
    return (uid, uidvalidity) if uid else None


def next_uidvalidity(old: int, now: int) -> int:
    """The UIDVALIDITY that replaces `old` when a folder's UIDs cannot be kept:
    max(old + 1, now), with `now` in Unix seconds. A folder's UIDVALIDITY is its creation time
    or a later renewal, so this is greater than every value the folder ever announced (RFC 3501
    §2.3.1.1: strictly ascending), also when a restore brought back an older value.

    Raises StoreError when the result would not fit in 32 bits.
    """
    new = max(old + 1, now)
    if new > UID_MAX:
        raise StoreError(f"UIDVALIDITY {old} cannot grow: {new} does not fit in 32 bits")
    return new
