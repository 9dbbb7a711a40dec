"""An IMAP4rev1 front end (the RFC 3501 subset real clients use) over asyncio streams.

One `serve_imap` call runs one connection against a `MailBackend`; `start_imap_server`
listens and `stop_imap_server` closes the listener and cancels live sessions (each says
`* BYE server shutting down`). Messages are stored with LF line endings and sent as CRLF;
every size and literal length is a CRLF octet count. A message another session expunged (or
that was purged) is left out of FETCH and STORE, which then end `NO [EXPUNGEISSUED]` (RFC 2180
§4.1.2, RFC 5530); the next NOOP reports its EXPUNGE.

Modules, lowest first (each imports only those above it):

* `tokens`: atoms, strings and lists; `parse`: commands, sequence sets, fetch attributes.
* `render`: response strings, message sections, ENVELOPE, BODYSTRUCTURE, FETCH items.
* `search`: SEARCH keys, parsed and evaluated.
* `framing`: reading one command off the wire (its lines and literals).
* `session`: one connection's state, its command loop and dispatch.
* `commands_connection`, `commands_mailbox`, `commands_message`: the command handlers;
  `commands`: the table of them (`DISPATCH`).
* `listener`: `serve_imap`, `start_imap_server`, `stop_imap_server`.
"""

from __future__ import annotations

from harness.servers.imap.commands_mailbox import list_entries
from harness.servers.imap.listener import serve_imap, start_imap_server, stop_imap_server
from harness.servers.imap.render import to_crlf
from harness.servers.imap.session import CAPABILITIES

__all__ = [
    "CAPABILITIES",
    "list_entries",
    "serve_imap",
    "start_imap_server",
    "stop_imap_server",
    "to_crlf",
]
