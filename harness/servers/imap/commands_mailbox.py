"""Mailbox commands: SELECT, EXAMINE, LIST, LSUB, STATUS, SUBSCRIBE, UNSUBSCRIBE (RFC 3501
§6.3), CLOSE, UNSELECT (RFC 3691) and EXPUNGE (§6.4.2-6.4.3), and keeping the selected
mailbox in step with the store (the untagged EXPUNGE, EXISTS and FETCH FLAGS of NOOP).

CREATE, DELETE, RENAME, APPEND and COPY are answered `NO [CANNOT]`. Folder names are
hierarchical with DELIMITER; INBOX is matched in any case (§5.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.servers.imap.parse import Command
from harness.servers.imap.render import format_flags, quote_mailbox
from harness.servers.imap.session import Fail, Selection, Session, State
from harness.servers.imap.tokens import Group, ParseError, as_text
from harness.store.records import Flag, FolderMeta, Row

DELIMITER = "/"
"""The hierarchy delimiter LIST reports (RFC 3501 §6.3.8)."""


async def cmd_select(session: Session, cmd: Command) -> str:
    """SELECT / EXAMINE (RFC 3501 §6.3.1-6.3.2): FLAGS, EXISTS, RECENT, UNSEEN, UIDVALIDITY,
    UIDNEXT and PERMANENTFLAGS, then OK [READ-WRITE] or [READ-ONLY] (EXAMINE).

    A failed SELECT leaves the session authenticated with nothing selected.
    """
    if len(cmd.args) != 1:
        raise ParseError(f"{cmd.name} needs a mailbox name")
    readonly = cmd.name == "EXAMINE"
    session.selected = None
    session.state = State.AUTHENTICATED
    meta = await find_folder(session, as_text(cmd.args[0]))
    if meta is None:
        raise Fail("NO", "[NONEXISTENT] no such mailbox")
    rows = await session.backend.rows(session.mailbox(), meta.folder)
    uidnext = max(meta.uidnext, rows[-1].key.uid + 1 if rows else 1)
    sel = Selection(meta.folder, readonly, rows, meta.uidvalidity, uidnext)
    session.send(f"* FLAGS {format_flags(Flag)}")
    session.send(f"* {len(rows)} EXISTS")
    session.send("* 0 RECENT")
    unseen = next((i + 1 for i, r in enumerate(rows) if Flag.SEEN not in r.flags), None)
    if unseen is not None:
        session.send(f"* OK [UNSEEN {unseen}] first unseen message")
    session.send(f"* OK [UIDVALIDITY {sel.uidvalidity}] UIDs valid")
    session.send(f"* OK [UIDNEXT {sel.uidnext}] predicted next UID")
    permanent = "()" if readonly else format_flags(Flag)
    session.send(f"* OK [PERMANENTFLAGS {permanent}] limited")
    session.selected = sel
    session.state = State.SELECTED
    mode = "READ-ONLY" if readonly else "READ-WRITE"
    return f"[{mode}] {cmd.name} completed"


async def cmd_list(session: Session, cmd: Command) -> str:
    """LIST / LSUB (RFC 3501 §6.3.8-6.3.9): one untagged line per matching folder.

    Every folder counts as subscribed; an empty pattern asks for the delimiter only.
    """
    if len(cmd.args) != 2:
        raise ParseError(f"{cmd.name} needs a reference and a pattern")
    reference, pattern = as_text(cmd.args[0]), as_text(cmd.args[1])
    if not pattern:
        session.send(f'* {cmd.name} (\\Noselect) "{DELIMITER}" ""')
        return f"{cmd.name} completed"
    names = [m.folder for m in await session.backend.folders(session.mailbox())]
    for name, attrs in list_entries(names, reference + pattern):
        session.send(f'* {cmd.name} ({" ".join(attrs)}) "{DELIMITER}" {quote_mailbox(name)}')
    return f"{cmd.name} completed"


async def cmd_status(session: Session, cmd: Command) -> str:
    """STATUS (RFC 3501 §6.3.10): MESSAGES, RECENT (always 0), UIDNEXT, UIDVALIDITY, UNSEEN."""
    if len(cmd.args) != 2 or not isinstance(cmd.args[1], Group):
        raise ParseError("STATUS needs a mailbox and a list of items")
    name = as_text(cmd.args[0])
    meta = await find_folder(session, name)
    if meta is None:
        raise Fail("NO", "[NONEXISTENT] no such mailbox")
    values = {
        "MESSAGES": meta.count,
        "RECENT": 0,
        "UIDNEXT": meta.uidnext,
        "UIDVALIDITY": meta.uidvalidity,
        "UNSEEN": meta.unseen,
    }
    items = []
    for tok in cmd.args[1].items:
        item = as_text(tok).upper()
        if item not in values:
            raise ParseError(f"unknown STATUS item {item}")
        items.append(f"{item} {values[item]}")
    session.send(f"* STATUS {quote_mailbox(name)} ({' '.join(items)})")
    return "STATUS completed"


async def cmd_subscribe(session: Session, cmd: Command) -> str:
    """SUBSCRIBE / UNSUBSCRIBE (RFC 3501 §6.3.6-6.3.7): accepted, nothing is recorded."""
    if len(cmd.args) != 1:
        raise ParseError(f"{cmd.name} needs a mailbox name")
    return f"{cmd.name} completed"


async def cmd_unsupported(session: Session, cmd: Command) -> str:
    """CREATE, DELETE, RENAME, APPEND, COPY: NO [CANNOT] (RFC 5530)."""
    raise Fail("NO", f"[CANNOT] {cmd.name} is not supported by this server")


async def cmd_close(session: Session, cmd: Command) -> str:
    """CLOSE (RFC 3501 §6.4.2, expunges silently unless read-only) / UNSELECT (RFC 3691,
    does not): back to the authenticated state."""
    if cmd.name == "CLOSE" and not session.sel().readonly:
        await expunge(session, silent=True)
    session.selected = None
    session.state = State.AUTHENTICATED
    return f"{cmd.name} completed"


async def cmd_expunge(session: Session, cmd: Command) -> str:
    """EXPUNGE (RFC 3501 §6.4.3): `* n EXPUNGE` per removed message; NO [READ-ONLY] after
    EXAMINE."""
    if session.sel().readonly:
        raise Fail("NO", "[READ-ONLY] mailbox is read-only")
    await expunge(session, silent=False)
    return "EXPUNGE completed"


async def refresh(session: Session) -> None:
    """Re-read the selected folder; report expunges (`* n EXPUNGE`, RFC 3501 §7.4.1), new
    messages (`* n EXISTS`, §7.3.1; UIDNEXT moves past them) and flag changes (`* n FETCH
    (FLAGS ...)`, §7.4.2)."""
    sel = session.sel()
    fresh = await session.backend.rows(session.mailbox(), sel.folder)
    by_uid = {r.key.uid: r for r in fresh}
    kept: list[Row] = []
    changed: list[tuple[int, Row]] = []
    for row in sel.rows:
        now = by_uid.get(row.key.uid)
        if now is None:
            session.send(f"* {len(kept) + 1} EXPUNGE")
            continue
        kept.append(now)
        if now.flags != row.flags:
            changed.append((len(kept), now))
    known = {r.key.uid for r in sel.rows}
    added = [r for r in fresh if r.key.uid not in known]
    sel.rows = kept + added
    if added:
        sel.uidnext = max(sel.uidnext, added[-1].key.uid + 1)
        session.send(f"* {len(sel.rows)} EXISTS")
    for seq, row in changed:
        session.send(f"* {seq} FETCH (FLAGS {format_flags(row.flags)})")


async def expunge(session: Session, silent: bool) -> None:
    """Expunge the \\Deleted messages of the selection (the store decides which are);
    `* n EXPUNGE` for each unless `silent` (CLOSE, RFC 3501 §6.4.2)."""
    sel = session.sel()
    uids = [r.key.uid for r in sel.rows]
    removed = await session.backend.expunge(session.mailbox(), sel.folder, uids) if uids else []
    for uid in sorted(removed):
        idx = sel.index_of(uid)
        if idx is None:
            continue
        del sel.rows[idx]
        if not silent:
            session.send(f"* {idx + 1} EXPUNGE")


async def find_folder(session: Session, name: str) -> FolderMeta | None:
    """The folder `name` of the logged-in mailbox (INBOX in any case), or None."""
    for meta in await session.backend.folders(session.mailbox()):
        if meta.folder == name or (name.upper() == "INBOX" == meta.folder.upper()):
            return meta
    return None


def list_entries(names: Iterable[str], pattern: str) -> list[tuple[str, list[str]]]:
    """The folders (and implied parents) a LIST pattern matches, with their attributes."""
    regex = "".join(
        ".*" if c == "*" else f"[^{DELIMITER}]*" if c == "%" else re.escape(c) for c in pattern
    )
    real = set(names)
    every = set(real)
    for name in real:
        parts = name.split(DELIMITER)
        every.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
    out = []
    for name in sorted(every, key=lambda n: (n.upper() != "INBOX", n)):
        flags = re.IGNORECASE if name.upper() == "INBOX" else 0
        if not re.fullmatch(regex, name, flags):
            continue
        children = any(n.startswith(name + DELIMITER) for n in every)
        attrs = ["\\HasChildren" if children else "\\HasNoChildren"]
        if name not in real:
            attrs.insert(0, "\\Noselect")
        out.append((name, attrs))
    return out
