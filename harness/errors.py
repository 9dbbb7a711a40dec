"""The one exception root of firedrill, and the exit codes the CLI maps it to.

Exit codes (documented in the README):
  0  success / clean
  1  the drill or check found violations
  2  bad input (missing path, malformed file, refused root) or a harness error
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2


class FiredrillError(Exception):
    """Root of every error firedrill raises on purpose; the CLI prints it as one line."""

    exit_code = EXIT_BAD_INPUT


class SandboxRefused(FiredrillError):
    """A destructive or writing command was pointed at a tree firedrill did not create."""


class NotAnInstallation(FiredrillError):
    """The root is missing or does not hold a simulated InterMail installation."""


class ConfigSyntaxError(FiredrillError):
    """config.db (or a file in its format) cannot be parsed."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class StoreError(FiredrillError):
    """A store operation could not be carried out (unknown mailbox, duplicate id, ...)."""


class NotFound(StoreError):
    """The mailbox, folder, message or account does not exist."""


class AlreadyExists(StoreError):
    """The mailbox, message id, account or address is taken."""


class InvalidScenario(FiredrillError):
    """A scenario file is malformed: names the file, the field path and, for syntax, the line."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}")
        self.path = path
        self.where = where
        self.reason = reason


class ProcedureFailed(FiredrillError):
    """A backup or restore procedure exited non-zero, timed out or could not run."""

    exit_code = EXIT_VIOLATIONS


class ProcedureInterrupted(FiredrillError):
    """The machine crashed under a running procedure: its copy stopped half-way."""


class ManifestError(FiredrillError):
    """A manifest file is missing, unreadable or of an unknown format."""
