"""The one exception type for bad user input, and the one set of argument checks.

Library functions raise :class:`SpectraError` (a ``ValueError``) with a one-line,
human-readable message naming the problem. The CLI turns it into that line on
stderr and exit code 2, with no traceback and no output files. The checks below are
what every module uses to validate scalars, so the same input gets the same message
everywhere.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

__all__ = ["SpectraError", "check", "check_int", "check_real", "check_choice"]


class SpectraError(ValueError):
    """Invalid input from a user: the message is one line that names the problem."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`SpectraError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SpectraError(message)


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as an int (bools and non-integers refused), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpectraError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise SpectraError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value: object, *, positive: bool = False, nonneg: bool = False) -> float:
    """``value`` as a finite float; ``positive``: > 0; ``nonneg``: >= 0."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise SpectraError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise SpectraError(f"{name} must be finite, got {value!r}")
    if positive and x <= 0:
        raise SpectraError(f"{name} must be > 0, got {value!r}")
    if nonneg and x < 0:
        raise SpectraError(f"{name} must be >= 0, got {value!r}")
    return x


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings), else a one-line refusal."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise SpectraError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
