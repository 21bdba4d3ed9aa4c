"""The one exception type for bad user input.

Library functions raise :class:`SpectraError` (a ``ValueError``) with a one-line,
human-readable message naming the problem. The CLI turns it into that line on
stderr and exit code 2, with no traceback and no output files.
"""

from __future__ import annotations

__all__ = ["SpectraError", "check"]


class SpectraError(ValueError):
    """Invalid input from a user: the message is one line that names the problem."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`SpectraError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SpectraError(message)
