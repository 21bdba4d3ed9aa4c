"""The one exception type for bad user input, and the one set of argument checks.

Library functions raise :class:`SpectraError` (a ``ValueError``) with a one-line,
human-readable message naming the problem. The CLI turns it into that line on
stderr and exit code 2, with no traceback and no output files. The checks below are
what every module and every command option uses to validate scalars, so the same input
gets the same message everywhere: each refusal names the argument, the value and what is
allowed.

The physical bounds are where the numerics stop being meaningful: beyond ``SIGMA_MAX`` the
fixed point q* ~ sigma^2 of [T10] leaves the range over which the Gauss-Hermite quadrature
of phi(sqrt(q) z) resolves the activation's saturation; q* outside ``Q_STAR_RANGE`` is
below float64's resolution of the critical line or in that same saturated regime. Counts
and sizes end at ``INT_MAX`` (int64, what torch and numpy index with); seeds at
``SEED_MAX`` (what both torch's and numpy's generators accept).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

__all__ = [
    "SpectraError",
    "check",
    "check_int",
    "check_real",
    "check_seed",
    "check_choice",
    "check_sigma",
    "check_q_star",
    "INT_MAX",
    "SEED_MAX",
    "SIGMA_MAX",
    "Q_STAR_RANGE",
]

#: The largest count or size anything accepts: int64, what torch and numpy index with.
INT_MAX = 2**63 - 1
#: Seeds are 0 .. SEED_MAX: torch.Generator.manual_seed and numpy's SeedSequence take both.
SEED_MAX = 2**63 - 1
#: The largest weight or bias standard deviation sigma_w, sigma_b (see the module text).
SIGMA_MAX = 1e3
#: The q* a critical point may be asked for: [low, high] (see the module text).
Q_STAR_RANGE = (1e-12, 1e6)


class SpectraError(ValueError):
    """Invalid input from a user: the message is one line that names the problem."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`SpectraError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SpectraError(message)


def _short(value: object) -> str:
    """``repr(value)``, cut to 60 characters (a refusal stays one readable line)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} chars)"


def check_int(
    name: str, value: object, minimum: int | None = None, maximum: int | None = INT_MAX
) -> int:
    """``value`` as an int (bools and non-integers refused) in ``minimum .. maximum``.

    ``maximum`` defaults to :data:`INT_MAX`, so no count reaches torch or numpy as an
    integer they cannot hold; ``None`` lifts it.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SpectraError(f"{name} must be an integer, got {_short(value)}")
    v = int(value)
    low_bad = minimum is not None and v < minimum
    if low_bad or (maximum is not None and v > maximum):
        if minimum is not None and maximum is not None and (maximum != INT_MAX or not low_bad):
            allowed = f"in {minimum}..{maximum}"
        elif low_bad:
            allowed = f">= {minimum}"
        else:
            allowed = f"<= {maximum}"
        raise SpectraError(f"{name} must be {allowed}, got {_short(v)}")
    return v


def check_seed(name: str, value: object, count: int = 1) -> int:
    """A seed in 0 .. :data:`SEED_MAX`, such that ``count`` consecutive seeds fit too."""
    seed = check_int(name, value, 0, SEED_MAX)
    if seed + count - 1 > SEED_MAX:
        raise SpectraError(
            f"{name} {seed} with {count} seeds runs past the largest seed {SEED_MAX}"
        )
    return seed


def check_real(
    name: str,
    value: object,
    *,
    positive: bool = False,
    nonneg: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """``value`` as a finite float; ``positive``: > 0; ``nonneg``: >= 0; and within
    ``[minimum, maximum]`` where given."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise SpectraError(f"{name} must be a number, got {_short(value)}") from None
    if not math.isfinite(x):
        raise SpectraError(f"{name} must be a finite number, got {_short(value)}")
    low = "> 0" if positive else ">= 0" if nonneg else None
    if minimum is not None:
        low = f">= {minimum:g}"
    allowed = " and ".join(t for t in (low, None if maximum is None else f"<= {maximum:g}") if t)
    if (
        (positive and x <= 0)
        or (nonneg and x < 0)
        or (minimum is not None and x < minimum)
        or (maximum is not None and x > maximum)
    ):
        raise SpectraError(f"{name} must be {allowed}, got {_short(value)}")
    return x


def check_sigma(name: str, value: object, *, bias: bool = False) -> float:
    """A weight std sigma_w in (0, SIGMA_MAX], or with ``bias`` a bias std in [0, SIGMA_MAX]."""
    return check_real(name, value, positive=not bias, nonneg=bias, maximum=SIGMA_MAX)


def check_q_star(name: str, value: object) -> float:
    """A fixed point q* within :data:`Q_STAR_RANGE`."""
    return check_real(name, value, minimum=Q_STAR_RANGE[0], maximum=Q_STAR_RANGE[1])


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings), else a one-line refusal."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise SpectraError(f"unknown {name} {_short(value)}; choose one of {', '.join(choices)}")
    return value
