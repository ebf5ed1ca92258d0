"""One error root, grouped by what the caller should do.

Each class carries the exit code of SPEC §5; ``sync.cli`` turns them into words and exit
codes in one place. Per-user refusals are not exceptions: they are ``Outcome`` values.
Messages must never contain a secret.
"""

from __future__ import annotations

from collections.abc import Sequence


class SyncError(Exception):
    """Root of every error the tool reports on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(SyncError):
    """The configuration or a mapping file is wrong: every problem, each with file and key."""

    exit_code = 2

    def __init__(self, problems: Sequence[str], *, hint: str = "") -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


class UsageError(SyncError):
    exit_code = 2


class SourceError(SyncError):
    """A source is unreadable, empty, or its result may be truncated: nothing is attempted."""

    exit_code = 2


class ChamiloError(SyncError):
    """Chamilo cannot be used at all (unreachable, WSDL unusable, key refused)."""

    exit_code = 2


class KeyRefused(ChamiloError):
    """Chamilo answered the 'Secret key is not correct' fault."""


class TransientError(Exception):
    """A call whose fate is unknown (timeout, HTTP 5xx, dropped connection): retry, then
    ``unknown``. Not a ``SyncError``: it never reaches the user as such."""


class LockHeld(SyncError):
    """Another run holds the state store."""

    exit_code = 2


class SafetyStop(SyncError):
    """A guard refused the run; nothing was sent."""

    exit_code = 3


class RunAborted(SyncError):
    """A fatal error stopped an apply midway; what was done is recorded."""

    exit_code = 1
