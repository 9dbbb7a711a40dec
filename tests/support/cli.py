"""Running firedrill's, imctrl's and imboxmaint's command lines as a user would: a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIREDRILL = "harness.cli.firedrill"
IMCTRL = "harness.cli.imctrl"
IMBOXMAINT = "harness.cli.imboxmaint"


def run_module(
    module: str, *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`python -m module args...`, output captured as text, never raising on its exit code."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def firedrill(
    *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return run_module(FIREDRILL, *args, cwd=cwd, timeout=timeout)
