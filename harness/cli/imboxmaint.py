"""`imboxmaint`: offline maintenance of an installation's message store, a sibling of imctrl.

    imboxmaint [--root DIR] newuidvalidity [--docker-run RUN --image IMAGE]

The root comes from --root or $INTERMAIL. `newuidvalidity` gives every folder of the message
store (db/mbox) a new UIDVALIDITY, max(old + 1, now in Unix seconds), in one Berkeley DB
transaction, UIDs and UIDNEXT unchanged; every POP3 unique-id changes with it. Run it after
restoring db/mbox from a backup and before starting the servers (RFC 3501 §2.3.1.1; the
README's "UIDs after a restore"). It prints one line: how many folders got a new UIDVALIDITY.
It is an offline step: it refuses while any server of the installation runs, and holds the
MSS's lock while it works; it refuses a root without the sandbox marker before touching
anything. With --docker-run (what the docker backend gives an operator's procedure as
`$IMBOXMAINT`) the step runs inside a container of that drill's image.
Exit codes: 0 done, 2 bad input or refused (no installation, a root that is not a sandbox,
servers running, a store that cannot be opened, a container that cannot run), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import maintenance
from harness.cli.tools import installation_arguments, installation_root, run_tool
from harness.errors import EXIT_BAD_INPUT, EXIT_OK
from harness.layout import Layout

PROG = "imboxmaint"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=(maintenance.STEP,))
    installation_arguments(parser, "run inside this drill's container")
    args = parser.parse_args(argv)

    def step() -> int:
        layout = Layout(installation_root(args).absolute())
        if args.docker_run:
            return _in_container(layout, args.docker_run, args.image)
        renewed = maintenance.new_uidvalidity(layout)
        print(f"{PROG}: {maintenance.STEP}: {renewed} folders got a new UIDVALIDITY")
        return EXIT_OK

    return run_tool(PROG, step)


def _in_container(layout: Layout, run_id: str, image: str | None) -> int:
    """The step inside a container of drill run `run_id` (the docker SDK is loaded only here).
    The root is checked here first: a bind mount would create a missing root."""
    from harness.environments.containers import IMAGE, DockerBackend, DockerUnavailable

    layout = maintenance.offline_store(layout)
    backend = DockerBackend(layout, image=image or IMAGE, run_id=run_id)
    status, output = backend.run_tool(PROG, ["--root", str(layout.root), maintenance.STEP])
    if "No module named harness.cli.imboxmaint" in output:
        raise DockerUnavailable(
            f"the image {backend.image} has no imboxmaint: rebuild it with `make image`"
        )
    lines = output.strip().splitlines() or [f"{PROG}: error: its container exited {status}"]
    print(lines[-1], file=sys.stdout if status == EXIT_OK else sys.stderr)
    return EXIT_OK if status == EXIT_OK else EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
