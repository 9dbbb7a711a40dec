"""A POP3 front end (RFC 1939, with CAPA and response codes from RFC 2449 / RFC 3206).

One coroutine, `serve_pop3`, runs one whole connection over asyncio streams and talks to the
rest of the system only through a `MailBackend`.

Behaviour worth knowing:

* The maildrop is the account's INBOX, snapshotted at PASS. Messages that are already flagged
  Deleted in the store are listed like any other; only messages DELEted in this session are
  removed at QUIT.
* Sizes (STAT, LIST) are exact wire sizes: CRLF line endings, a final CRLF added when the
  stored message lacks one, before dot-stuffing (what a client counts after unstuffing).
  They are computed by fetching the messages, lazily, and cached per session.
* Unique ids (UIDL) are made of the message's UID and the INBOX's UIDVALIDITY, like Dovecot's
  default ``pop3_uidl_format = %08Xu%08Xv``: 8 upper-case hex digits of each, 16 characters
  (``harness.store.uids.uidl``, the one definition). A new UIDVALIDITY (``imboxmaint
  newuidvalidity`` after a restore of db/mbox) gives every message a new unique-id, so clients
  that leave mail on the server download the maildrop again once; without it, a restore that
  rewinds UIDNEXT would make new mail reuse unique-ids those clients skip as already seen.
* QUIT in TRANSACTION state enters UPDATE: each DELEted message gets the Deleted flag (its
  other flags kept, re-read from the store) and the uids are expunged; only then ``+OK``.
  If the backend fails, ``-ERR [SYS/TEMP]`` and the messages stay (possibly flagged).
* RETR marks the message Seen, best effort (a backend failure there is only logged).
* A message another session removed, once the store has purged it, answers
  ``-ERR no such message`` (RETR, TOP, and the sizes of LIST and STAT).
* Lines longer than 512 octets are answered ``-ERR line too long`` and discarded without
  buffering them whole; bare LF line ends are accepted.
* No exclusive maildrop lock is taken (several sessions of one account may run at once).
* An idle client (no command, or not reading our output, for `idle_timeout` seconds) is
  disconnected without a response and without UPDATE (RFC 1939 §3).
* Cancelling the session task (server shutdown) sends ``-ERR [SYS/TEMP] server shutting
  down``, closes, and re-raises `asyncio.CancelledError`.

Modules: `maildrop` (messages, wire form, sizes, unique-ids), `session` (one connection's
state, reading and dispatching lines), `commands` (the handlers and their table,
`COMMANDS`), `listener` (`serve_pop3`, `start_pop3_server`).
"""

from __future__ import annotations

from harness.servers.pop3.commands import CAPABILITIES
from harness.servers.pop3.listener import serve_pop3, start_pop3_server
from harness.servers.pop3.maildrop import dot_stuff, top_lines, unique_ids, wire_lines, wire_size

__all__ = [
    "CAPABILITIES",
    "dot_stuff",
    "serve_pop3",
    "start_pop3_server",
    "top_lines",
    "unique_ids",
    "wire_lines",
    "wire_size",
]
