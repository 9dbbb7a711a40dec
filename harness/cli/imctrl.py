"""`imctrl`: control an installation's servers, like InterMail's imctrl.

    imctrl [--root DIR] start|stop|drain|restart|status [allservers|NAME...] [--json]
           [--docker-run RUN --image IMAGE]

The root comes from --root or $INTERMAIL. With --docker-run (what the docker backend gives an
operator's procedure as `$IMCTRL`), start and restart start the servers as that drill's
containers; stop, drain and status are the same on both backends (the containers share the
host's pid namespace). `status` only reads and works on any installation;
start, stop, drain and restart change the tree (servers recover the databases, write logs, pid
and lock files) and refuse a root without the sandbox marker before touching anything.
Exit codes: 0 done, 1 a server did not start or stop, 2 bad input (unknown server, no
installation, a root that is not a sandbox).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from harness import control
from harness.cli.tools import installation_arguments, installation_root, run_tool
from harness.errors import EXIT_OK
from harness.layout import Layout
from harness.sandbox import require_installation, require_sandbox


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imctrl", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("start", "stop", "drain", "restart", "status"))
    parser.add_argument("servers", nargs="*", metavar="allservers|NAME")
    parser.add_argument("--json", action="store_true", help="status as JSON")
    installation_arguments(parser, "start as this drill's containers")
    args = parser.parse_args(argv)
    return run_tool("imctrl", lambda: _act(args))


def _act(args: argparse.Namespace) -> int:
    root = installation_root(args)
    if args.action == "status":
        layout = require_installation(root)
        rows = control.status(layout, args.servers)
        if args.json:
            print(json.dumps([r.to_json() for r in rows], indent=2))
        else:
            for r in rows:
                print(
                    f"{r.name:9} {r.state:8} pid {r.pid or '-':>7}  {r.host:6} {r.address}:{r.port}"
                )
        return EXIT_OK
    layout = require_sandbox(root)
    start = _docker_start(args) if args.docker_run else control.start
    if args.action in ("stop", "restart"):
        control.stop(layout, args.servers)
    elif args.action == "drain":
        control.drain(layout, args.servers)
    if args.action in ("start", "restart"):
        start(layout, args.servers)
    print(f"imctrl: {args.action} {' '.join(args.servers) or 'allservers'}: done")
    return EXIT_OK


def _docker_start(args: argparse.Namespace) -> Callable[[Layout, Sequence[str]], None]:
    """Start servers as the containers of drill run `args.docker_run` (the docker SDK is
    loaded only here: imctrl on the local backend never needs it)."""
    from harness.environments.containers import IMAGE, DockerBackend

    def start(layout: Layout, servers: Sequence[str]) -> None:
        DockerBackend(layout, image=args.image or IMAGE, run_id=args.docker_run).start(servers)

    return start


if __name__ == "__main__":
    sys.exit(main())
