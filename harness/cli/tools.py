"""What the InterMail-style tools (`imctrl`, `imboxmaint`) share: the installation arguments
(--root or $INTERMAIL, --docker-run and --image) and one way to end: a FiredrillError or an
OSError is one line on stderr and its exit code (2 for bad input), Ctrl-C is 130."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import EXIT_BAD_INPUT, FiredrillError


def installation_arguments(parser: argparse.ArgumentParser, docker_run: str) -> None:
    """Add --root, and --docker-run RUN (`docker_run` says what it does) with --image."""
    parser.add_argument(
        "--root", type=Path, default=None, help="installation root (default: $INTERMAIL)"
    )
    parser.add_argument("--docker-run", metavar="RUN", help=docker_run)
    parser.add_argument("--image", default=None, help="the containers' image (with --docker-run)")


def installation_root(args: argparse.Namespace) -> Path:
    """--root, else $INTERMAIL; FiredrillError when neither is given."""
    if args.root is not None:
        return Path(args.root)
    if os.environ.get("INTERMAIL"):
        return Path(os.environ["INTERMAIL"])
    raise FiredrillError("no installation: pass --root DIR or set $INTERMAIL")


def run_tool(prog: str, body: Callable[[], int]) -> int:
    """`body()`'s exit code; its FiredrillError or OSError as one line on stderr and that
    error's exit code (an OSError is bad input, 2); Ctrl-C is 130."""
    try:
        return body()
    except FiredrillError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
