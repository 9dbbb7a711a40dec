"""`python -m harness.servers PROGRAM --root DIR`: run one server in the foreground.

`imctrl start` launches servers this way, detached, with output to `log/<program>.log`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import FiredrillError
from harness.layout import Layout
from harness.servers.service import Service
from harness.topology import PROGRAMS


def service_class(program: str) -> type[Service]:
    """The server class of `program`. Each server process loads only its own module (aiosmtpd
    for the MTA, Berkeley DB for the stores): imported here for start-up cost, not a cycle."""
    if program == "mss":
        from harness.servers.mss import MessageStoreServer

        return MessageStoreServer
    if program == "dirserv":
        from harness.servers.dirserv import DirectoryServer

        return DirectoryServer
    if program == "confserv":
        from harness.servers.confserv import ConfigurationServer

        return ConfigurationServer
    if program == "mta":
        from harness.servers.mta import MailTransferAgent

        return MailTransferAgent
    from harness.servers.frontends import ImapServer, PopServer

    return PopServer if program == "popserv" else ImapServer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.servers")
    parser.add_argument("program", choices=PROGRAMS)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {args.program}[%(process)d] %(levelname)s %(message)s",
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    try:
        service = service_class(args.program)(Layout(args.root.absolute()))
        asyncio.run(service.run())
    except FiredrillError as exc:
        print(f"{args.program}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
