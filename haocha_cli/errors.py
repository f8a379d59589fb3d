"""The one error family of haocha.

Core code raises these with a message a clerk understands and a hint; only the CLI turns them into
``Error: <message> (<hint>)`` on stderr and exit code 1.
"""

from __future__ import annotations


class HaochaError(Exception):
    """Base of every error haocha reports to a user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class DatabaseError(HaochaError):
    """The database file cannot be used (not haocha's, too new, corrupt)."""


class ConfigError(HaochaError):
    """The configuration file is malformed or holds an invalid value."""


class NotFound(HaochaError):
    """A code or id that does not exist."""


class InvalidInput(HaochaError):
    """A value or file that cannot be accepted."""

    @classmethod
    def listing(cls, headline: str, problems: list[str], hint: str, *, most: int = 20) -> InvalidInput:
        """One error naming every problem of a file (the first ``most`` of them), so that a clerk fixes the
        file in one go."""
        listed = "".join(f"\n  - {p}" for p in problems[:most])
        more = len(problems) - most
        return cls(headline + ":" + listed + (f"\n  - … and {more} more" if more > 0 else ""), hint)


class PermissionDenied(HaochaError):
    """The operator's role does not allow the action."""


class InvalidTransition(HaochaError):
    """An action that the current state of a case (or other entity) does not allow."""


class NotifyError(HaochaError):
    """A notification (通知) could not be sent now: the channel refused it or could not be reached."""
