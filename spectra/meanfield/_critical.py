"""The critical line chi_1 = 1 of the mean-field theory (the theory page [T16]).

``critical_point(q*)`` -> (sigma_w, sigma_b), ``critical_sigma_w(sigma_b)`` and the
project's ``operating_point(depth, ...)`` (DESIGN: critical, q* = 1/depth). Along the line
sigma_w^2 = 1 / E phi'(sqrt(q) z)^2 and sigma_b^2 = q - sigma_w^2 E phi(sqrt(q) z)^2; the
latter difference cancels to ~(4/3) q^3 for tanh, so below q = 1e-3 it is summed from its
exact Taylor series (tanh, erf) instead of by quadrature. Re-exported by
:mod:`spectra.meanfield`, whose helpers this module uses.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

import numpy as np
from scipy.optimize import brentq

from ..activations import Activation, get_activation
from ..errors import SpectraError, check_q_star, check_sigma
from ._maps import (
    _XTOL,
    _check_ws,
    _expect,
    _mu1,
    _q_star,
)

_SERIES_Q = 1e-3  # below this q the critical-line numerator uses its Taylor series


# --------------------------------------------------------------------------- critical line
def _series_coeffs(name: str) -> tuple[list[Fraction], list[Fraction]] | None:
    """Exact Taylor coefficients (in u, up to u^30) of phi^2 and phi'^2, up to a common
    constant factor, for tanh and erf; None for other activations."""
    return _series_cache(name)


@cache
def _series_cache(name: str):
    n = 32
    if name == "tanh":
        t = [Fraction(0)] * n  # tanh' = 1 - tanh^2  =>  (k+1) t_{k+1} = [k=0] - (t*t)_k
        for k in range(n - 1):
            sq = sum((t[i] * t[k - i] for i in range(k + 1)), Fraction(0))
            t[k + 1] = ((1 if k == 0 else 0) - sq) / (k + 1)
        dt = [Fraction(k + 1) * t[k + 1] for k in range(n - 1)] + [Fraction(0)]
    elif name == "erf":  # erf = (2/sqrt(pi)) * t, erf' = (2/sqrt(pi)) * dt; factor dropped
        t = [Fraction(0)] * n
        dt = [Fraction(0)] * n
        for j in range(n // 2):
            if 2 * j + 1 < n:
                t[2 * j + 1] = Fraction((-1) ** j, math.factorial(j) * (2 * j + 1))
            dt[2 * j] = Fraction((-1) ** j, math.factorial(j))
    else:
        return None

    def square(a):
        return [sum((a[i] * a[k - i] for i in range(k + 1)), Fraction(0)) for k in range(n)]

    return square(t), square(dt)


@cache
def _numerator_series(name: str) -> np.ndarray | None:
    """Coefficients N_m (float) with q E phi'^2 - E phi^2 = scale * sum_m N_m q^m [T16]."""
    co = _series_coeffs(name)
    if co is None:
        return None
    a, b = co  # phi^2 = sum a_k u^k, phi'^2 = sum b_k u^k (times a common constant)

    def dfact(k):  # (2k-1)!!, with (-1)!! = 1
        return math.prod(range(1, 2 * k, 2)) if k > 0 else 1

    out = []
    for m in range(1, 15):
        val = Fraction(dfact(m - 1)) * b[2 * m - 2] - Fraction(dfact(m)) * a[2 * m]
        out.append(float(val))
    return np.array([0.0, *out])  # index = power of q


def _crit_numerator(q: float, act: Activation) -> float:
    """q E phi'(sqrt q z)^2 - E phi(sqrt q z)^2, stable for small q (tanh, erf: Taylor
    series for q < 1e-3, where the two terms agree to ~8 digits; theory [T16])."""
    builtin_series = act.builtin and act.name in ("tanh", "erf")
    coeffs = _numerator_series(act.name) if builtin_series else None
    if coeffs is not None and q < _SERIES_Q:
        scale = 4.0 / math.pi if act.name == "erf" else 1.0
        return float(scale * np.polynomial.polynomial.polyval(q, coeffs))
    return float(q * _mu1(q, act) - _expect(lambda u: act.phi(u) ** 2, q))


def critical_point(q_star: float, activation="tanh") -> tuple[float, float]:
    """[T16] The point (sigma_w, sigma_b) of the critical line chi_1 = 1 whose q* is ``q_star``.

    sigma_w^2 = 1 / E phi'(sqrt(q) z)^2 and sigma_b^2 = q - sigma_w^2 E phi(sqrt(q) z)^2,
    the latter computed without cancellation. Raises :class:`SpectraError` if q* <= 0 or
    not finite, or if sigma_b^2 would be negative (no critical point with that q*).
    """
    q = check_q_star("q_star", q_star)
    act = get_activation(activation)
    mu1 = float(_mu1(q, act))
    if not mu1 > 0.0:
        raise SpectraError(f"{act.name} has E phi'^2 = 0 at q*={q:g}: no critical point")
    num = _crit_numerator(q, act)
    # Round-off tolerance: the two terms are O(q); a relative 1e-13 is noise.
    if num < -1e-13 * max(q, 1.0):
        raise SpectraError(f"{act.name} has no critical point with q*={q:g} (sigma_b^2 < 0)")
    return math.sqrt(1.0 / mu1), math.sqrt(max(num, 0.0) / mu1)


def _critical_q(sigma_b: float, act: Activation) -> float:
    """q* on the critical line at bias sigma_b (> 0): solve sigma_b^2(q) = sigma_b^2."""
    target = sigma_b**2

    def sb2(q):
        return _crit_numerator(q, act) / float(_mu1(q, act))

    lo, hi = 1e-3, 1.0
    for _ in range(200):
        if sb2(lo) < target:
            break
        lo /= 10.0
    else:  # pragma: no cover
        raise SpectraError(f"no critical point with sigma_b={sigma_b:g} ({act.name})")
    for _ in range(60):
        if sb2(hi) > target:
            break
        lo, hi = hi, hi * 4.0
    else:
        raise SpectraError(f"{act.name} has no critical point with sigma_b={sigma_b:g}")
    return float(
        brentq(lambda q: sb2(q) - target, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps)
    )


def critical_sigma_w(sigma_b: float, activation="tanh") -> float:
    """[T16] sigma_w*(sigma_b): the sigma_w at which chi_1 = 1 for bias ``sigma_b``.

    At sigma_b = 0 this is 1/|phi'(0)| (tanh: 1, q* = 0). the theory page's Table 1 is met to 1e-7.
    """
    sigma_b = check_sigma("sigma_b", sigma_b, bias=True)
    act = get_activation(activation)
    if sigma_b == 0.0:
        d0 = abs(float(act.dphi(np.zeros(1))[0]))
        if d0 == 0.0:
            raise SpectraError(f"{act.name} has phi'(0) = 0: no critical point at sigma_b = 0")
        return 1.0 / d0
    q = _critical_q(sigma_b, act)
    return math.sqrt(1.0 / float(_mu1(q, act)))


def operating_point(
    depth: int,
    *,
    sigma_w: float | None = None,
    sigma_b: float | None = None,
    q_star: float | None = None,
    activation="tanh",
) -> tuple[float, float, float]:
    """The project's operating point (sigma_w, sigma_b, q*) for a network of ``depth`` layers.

    - default: the critical point with q* = 1/depth (DESIGN; [T16]);
    - ``q_star`` given: the critical point with that q*;
    - ``sigma_w`` and ``sigma_b`` given: that point, with q* its fixed point [T10];
    - ``sigma_b`` alone: the critical point at that bias, sigma_w = critical_sigma_w;
    - a linear net (phi' = 1, so q* plays no part in its Jacobian) with ``sigma_w`` given:
      that sigma_w, sigma_b (default 0) and q* = 0.
    Giving ``q_star`` together with sigma_w/sigma_b, or ``sigma_w`` alone for a nonlinear
    net, is a SpectraError. The one resolver of operating points: every command, the
    network builders and the random-matrix theory call it. Returns Python floats.
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise SpectraError(f"depth must be a positive integer, got {depth!r}")
    act = get_activation(activation)
    if q_star is not None and (sigma_w is not None or sigma_b is not None):
        raise SpectraError("give either q_star or sigma_w/sigma_b, not both")
    if act.name == "linear" and sigma_w is not None:
        sw, sb = _check_ws(sigma_w, 0.0 if sigma_b is None else sigma_b)
        return float(sw), float(sb), 0.0
    if sigma_w is not None and sigma_b is not None:
        sw, sb = _check_ws(sigma_w, sigma_b)
        return float(sw), float(sb), float(_q_star(sw, sb, act))
    if sigma_w is not None:
        raise SpectraError("sigma_w given without sigma_b; give both (or only sigma_b)")
    if sigma_b is not None:
        sb = check_sigma("sigma_b", sigma_b, bias=True)
        if sb == 0.0:
            return float(critical_sigma_w(0.0, act)), 0.0, 0.0
        q = _critical_q(sb, act)
        return math.sqrt(1.0 / float(_mu1(q, act))), float(sb), float(q)
    q = 1.0 / depth if q_star is None else check_q_star("q_star", q_star)
    sw, sb = critical_point(q, act)
    return float(sw), float(sb), float(q)
