"""`imctrl`: control an installation's servers, like InterMail's imctrl.

    imctrl [--root DIR] start|stop|drain|restart|status [allservers|NAME...] [--json]

The root comes from --root or $INTERMAIL. `status` only reads and works on any installation;
start, stop, drain and restart change the tree (servers recover the databases, write logs, pid
and lock files) and refuse a root without the sandbox marker before touching anything.
Exit codes: 0 done, 1 a server did not start or stop, 2 bad input (unknown server, no
installation, a root that is not a sandbox).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import control
from harness.errors import EXIT_BAD_INPUT, EXIT_OK, FiredrillError
from harness.sandbox import require_installation, require_sandbox


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imctrl", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=None, help="installation root (default: $INTERMAIL)"
    )
    parser.add_argument("action", choices=("start", "stop", "drain", "restart", "status"))
    parser.add_argument("servers", nargs="*", metavar="allservers|NAME")
    parser.add_argument("--json", action="store_true", help="status as JSON")
    args = parser.parse_args(argv)
    root = args.root or (Path(os.environ["INTERMAIL"]) if os.environ.get("INTERMAIL") else None)
    try:
        if root is None:
            raise FiredrillError("no installation: pass --root DIR or set $INTERMAIL")
        if args.action == "status":
            layout = require_installation(root)
            rows = control.status(layout, args.servers)
            if args.json:
                print(json.dumps([r.to_json() for r in rows], indent=2))
            else:
                for r in rows:
                    print(
                        f"{r.name:9} {r.state:8} pid {r.pid or '-':>7}  {r.host:6} "
                        f"{r.address}:{r.port}"
                    )
            return EXIT_OK
        layout = require_sandbox(root)
        action = {
            "start": control.start,
            "stop": control.stop,
            "drain": control.drain,
            "restart": control.restart,
        }[args.action]
        action(layout, args.servers)
        print(f"imctrl: {args.action} {' '.join(args.servers) or 'allservers'}: done")
        return EXIT_OK
    except FiredrillError as exc:
        print(f"imctrl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"imctrl: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
