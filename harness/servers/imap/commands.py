"""The IMAP command table: command name → handler and the states it is valid in.

`Session.execute` looks a command up here; a name that is missing is answered `BAD unknown
command`, a command sent in the wrong state (RFC 3501 §3, §6) `BAD ... not allowed`.
"""

from __future__ import annotations

from harness.servers.imap.commands_connection import (
    cmd_authenticate,
    cmd_capability,
    cmd_login,
    cmd_logout,
    cmd_noop,
)
from harness.servers.imap.commands_mailbox import (
    cmd_close,
    cmd_expunge,
    cmd_list,
    cmd_select,
    cmd_status,
    cmd_subscribe,
    cmd_unsupported,
)
from harness.servers.imap.commands_message import cmd_fetch, cmd_search, cmd_store
from harness.servers.imap.session import (
    ANY_STATE,
    AUTHED,
    NOT_AUTH,
    SELECTED,
    CommandTable,
)

__all__ = ["DISPATCH"]

DISPATCH: CommandTable = {
    "CAPABILITY": (cmd_capability, ANY_STATE),
    "NOOP": (cmd_noop, ANY_STATE),
    "LOGOUT": (cmd_logout, ANY_STATE),
    "LOGIN": (cmd_login, NOT_AUTH),
    "AUTHENTICATE": (cmd_authenticate, NOT_AUTH),
    "SELECT": (cmd_select, AUTHED),
    "EXAMINE": (cmd_select, AUTHED),
    "LIST": (cmd_list, AUTHED),
    "LSUB": (cmd_list, AUTHED),
    "STATUS": (cmd_status, AUTHED),
    "SUBSCRIBE": (cmd_subscribe, AUTHED),
    "UNSUBSCRIBE": (cmd_subscribe, AUTHED),
    "CREATE": (cmd_unsupported, AUTHED),
    "DELETE": (cmd_unsupported, AUTHED),
    "RENAME": (cmd_unsupported, AUTHED),
    "APPEND": (cmd_unsupported, AUTHED),
    "CHECK": (cmd_noop, SELECTED),
    "CLOSE": (cmd_close, SELECTED),
    "UNSELECT": (cmd_close, SELECTED),
    "EXPUNGE": (cmd_expunge, SELECTED),
    "FETCH": (cmd_fetch, SELECTED),
    "UID FETCH": (cmd_fetch, SELECTED),
    "STORE": (cmd_store, SELECTED),
    "UID STORE": (cmd_store, SELECTED),
    "SEARCH": (cmd_search, SELECTED),
    "UID SEARCH": (cmd_search, SELECTED),
    "COPY": (cmd_unsupported, SELECTED),
    "UID COPY": (cmd_unsupported, SELECTED),
}
"""Command name (`UID FETCH` for UID commands) → handler and the states it is valid in."""
