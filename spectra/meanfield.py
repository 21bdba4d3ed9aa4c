"""Mean-field theory of deep vanilla networks (fully connected and CNN alike).

Everything here is float64 numpy and deterministic (no randomness). Gaussian expectations
use the trapezoid rule of THEORY.md [T13] (``spectra.quadrature``); fixed points are
solved with ``brentq`` (xtol 1e-15).

- [T10] the q-map ``q_map`` and its fixed point ``q_star``; [T11] ``chi_q``;
  [T12] ``chi_1``.
- [T14] the c-map ``c_map`` and its fixed point ``c_star``; [T15] ``chi_c``;
  ``depth_scale`` gives xi_c and xi_q.
- [T16] the critical line chi_1 = 1: ``critical_point(q)`` -> (sigma_w, sigma_b) and
  ``critical_sigma_w(sigma_b)``; ``operating_point`` is the project's default operating
  point (critical, q* = 1/depth).

The phase grid, Fourier modes [T18]-[T19] and the convolutional covariance map [T17]
live in ``spectra.meanfield_grid``/``spectra.meanfield_conv`` and are re-exported here.

Activations are given by name (tanh, erf, relu, linear) or as a torch callable, see
:func:`spectra.activations.get_activation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from functools import cache

import numpy as np
from scipy.optimize import brentq

from .errors import SpectraError
from .quadrature import gauss_nodes

__all__ = [
    "resolve_activation",
    "q_map",
    "q_star",
    "chi_1",
    "chi_q",
    "c_map",
    "c_star",
    "chi_c",
    "depth_scale",
    "critical_point",
    "critical_sigma_w",
    "operating_point",
    "mean_field",
]

_XTOL = 1e-15
_SERIES_Q = 1e-3  # below this q the critical-line numerator uses its Taylor series
_Q_MAX = 1e8  # a q-map fixed point beyond this is treated as divergent
_CRIT_TOL = 1e-12  # chi_1 <= 1 + this counts as critical/ordered (rounding on the line)


# --------------------------------------------------------------------------- activations
class _NumpyAct:
    """The numpy half of an activation (phi, phi', phi''), without importing torch."""

    def __init__(self, name: str, phi, dphi, d2phi, odd: bool, builtin: bool = True):
        self.name, self.phi, self.dphi, self.d2phi, self.odd = name, phi, dphi, d2phi, odd
        # builtin: one of the named activations, so closed forms / series keyed on the
        # name (ReLU arc-cosine kernel, tanh/erf critical-line series) are valid for it.
        self.builtin = builtin


def _np_tanh() -> _NumpyAct:
    return _NumpyAct(
        "tanh",
        np.tanh,
        lambda x: 1.0 / np.cosh(x) ** 2,
        lambda x: -2.0 * np.tanh(x) / np.cosh(x) ** 2,
        True,
    )


def _np_erf() -> _NumpyAct:
    from scipy.special import erf

    c = 2.0 / math.sqrt(math.pi)
    return _NumpyAct(
        "erf", erf, lambda x: c * np.exp(-(x**2)), lambda x: -2.0 * c * x * np.exp(-(x**2)), True
    )


def _np_relu() -> _NumpyAct:
    return _NumpyAct(
        "relu",
        lambda x: np.maximum(x, 0.0),
        lambda x: (np.asarray(x) > 0).astype(np.float64),
        lambda x: np.zeros_like(np.asarray(x, dtype=np.float64)),
        False,
    )


def _np_linear() -> _NumpyAct:
    return _NumpyAct(
        "linear",
        lambda x: np.asarray(x, dtype=np.float64),
        lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        lambda x: np.zeros_like(np.asarray(x, dtype=np.float64)),
        True,
    )


_NAMED = {"tanh": _np_tanh, "erf": _np_erf, "relu": _np_relu, "linear": _np_linear}


def resolve_activation(activation) -> _NumpyAct:
    """Numpy phi, phi', phi'' (float64) for a name, a callable or an ``Activation``.

    Named activations are built here without importing torch (keeps the CLI fast); a
    callable goes through :func:`spectra.activations.get_activation` (torch autograd
    derivatives). Unknown names raise :class:`SpectraError`.
    """
    if isinstance(activation, _NumpyAct):
        return activation
    if isinstance(activation, str):
        key = activation.lower()
        if key not in _NAMED:
            raise SpectraError(
                f"unknown activation {activation!r}; choose one of {', '.join(_NAMED)}"
            )
        return _NAMED[key]()
    from .activations import get_activation

    a = get_activation(activation)
    if a.name in _NAMED:  # an Activation (or callable) that *is* a named one, checked
        ref = _NAMED[a.name]()
        x = np.array([-2.5, -0.7, 0.0, 0.3, 1.1, 4.0])
        if np.allclose(np.asarray(a.phi(x), dtype=np.float64), ref.phi(x), rtol=1e-14, atol=0):
            return ref
    return _NumpyAct(a.name, a.phi, a.dphi, a.d2phi, bool(a.odd), builtin=False)


# --------------------------------------------------------------------------- validation
def _check_real(name: str, value, *, positive: bool = False, nonneg: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpectraError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise SpectraError(f"{name} must be finite, got {value!r}")
    if positive and x <= 0:
        raise SpectraError(f"{name} must be > 0, got {value!r}")
    if nonneg and x < 0:
        raise SpectraError(f"{name} must be >= 0, got {value!r}")
    return x


def _check_ws(sigma_w, sigma_b) -> tuple[float, float]:
    return (
        _check_real("sigma_w", sigma_w, positive=True),
        _check_real("sigma_b", sigma_b, nonneg=True),
    )


# --------------------------------------------------------------------------- expectations
def _expect(f: Callable[[np.ndarray], np.ndarray], q) -> np.ndarray:
    """E f(sqrt(q) z), z ~ N(0,1), for q of any shape (vectorised) [T13]."""
    z, w = gauss_nodes()
    q = np.asarray(q, dtype=np.float64)
    u = np.sqrt(q)[..., None] * z
    return f(u) @ w


def q_map(q, sigma_w: float, sigma_b: float, activation="tanh") -> np.ndarray:
    """[T10] V(q) = sigma_w^2 E phi(sqrt(q) z)^2 + sigma_b^2; ``q`` any shape."""
    act = resolve_activation(activation)
    return sigma_w**2 * _expect(lambda u: act.phi(u) ** 2, q) + sigma_b**2


def _mu1(q, act: _NumpyAct) -> np.ndarray:
    """E phi'(sqrt(q) z)^2 (ReLU: exactly 1/2; its jump sits on the node z = 0)."""
    if act.builtin and act.name == "relu":
        return np.full(np.shape(q), 0.5)
    return _expect(lambda u: act.dphi(u) ** 2, q)


# --------------------------------------------------------------------------- q*
def q_star(sigma_w: float, sigma_b: float, activation="tanh") -> float:
    """[T10] The fixed point q* of the q-map reached from q = 0 (the stable one).

    Returns 0.0 when sigma_b = 0 and 0 is stable (tanh with sigma_w <= 1, [T10]).
    Raises :class:`SpectraError` on bad input or when the q-map diverges (no finite q*,
    e.g. ReLU with sigma_w^2 >= 2).
    """
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    return _q_star(sigma_w, sigma_b, act)


def _q_star(sigma_w: float, sigma_b: float, act: _NumpyAct) -> float:
    sw2, sb2 = sigma_w**2, sigma_b**2
    phi0 = float(act.phi(np.zeros(1))[0])
    if sb2 == 0.0 and phi0 == 0.0:
        # 0 is a fixed point; work with g(q) = V(q)/q - 1 (no 0/0 cancellation).
        def g(q):
            return sw2 * _expect(lambda u: act.phi(u) ** 2, q) / q - 1.0
    else:

        def g(q):
            return sw2 * _expect(lambda u: act.phi(u) ** 2, q) + sb2 - q

    # Scan a geometric grid upward for the first sign change + -> - of g.
    grid = np.logspace(-12, math.log10(_Q_MAX), 241)
    vals = g(grid)
    if sb2 == 0.0 and phi0 == 0.0 and vals[0] <= 0.0:
        return 0.0
    neg = np.nonzero(vals < 0.0)[0]
    if neg.size == 0:
        raise SpectraError(
            f"the q-map has no finite fixed point at sigma_w={sigma_w:g}, sigma_b={sigma_b:g}"
            f" ({act.name}): q diverges with depth"
        )
    i = int(neg[0])
    if i == 0:  # root below the grid: bracket down to 0
        lo, hi = 0.0, float(grid[0])
        if sb2 == 0.0 and phi0 == 0.0:
            return 0.0
    else:
        lo, hi = float(grid[i - 1]), float(grid[i])
    return float(brentq(lambda q: float(g(q)), lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps))


# --------------------------------------------------------------------------- slopes
def chi_1(sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None) -> float:
    """[T12] chi_1 = sigma_w^2 E phi'(sqrt(q*) z)^2 (q* computed unless ``q`` given)."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    return float(sigma_w**2 * _mu1(qs, act))


def chi_q(sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None) -> float:
    """[T11] chi_q* = V'(q*) = sigma_w^2 E[phi'^2 + phi phi''](sqrt(q*) z)."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    val = _expect(lambda u: act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u), qs)
    return float(sigma_w**2 * val)


# --------------------------------------------------------------------------- c-map
def _cmap_terms(c, q: float, act: _NumpyAct, fn) -> np.ndarray:
    """E fn(u1) fn(u2) with u1 = sqrt(q) z1, u2 = sqrt(q)(c z1 + sqrt(1-c^2) z2); c any shape.

    Uses the [T13] tensor-product rule, factorised over z1 so the cost is O(481^2) per c.
    """
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    if (
        act.builtin and act.name == "relu"
    ):  # the kink is not on the 2D grid: arc-cosine kernel (Cho & Saul)
        cc = np.clip(c, -1.0, 1.0)
        theta = np.arccos(cc)
        if fn is act.phi:
            return q / (2 * math.pi) * (np.sqrt(1.0 - cc**2) + (math.pi - theta) * cc)
        return (math.pi - theta) / (2 * math.pi)
    z, w = gauss_nodes()
    s = math.sqrt(q)
    f1 = fn(s * z) * w  # (481,) weights folded in, indexed by z1
    out = np.empty(c.shape)
    for idx, cc in np.ndenumerate(c):
        cc = min(max(cc, -1.0), 1.0)
        u2 = s * (cc * z[:, None] + math.sqrt(max(0.0, 1.0 - cc * cc)) * z[None, :])
        out[idx] = f1 @ (fn(u2) @ w)
    return out


def c_map(c, sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None):
    """[T14] c -> (sigma_w^2 E phi(u1) phi(u2) + sigma_b^2) / q*; ``c`` scalar or array."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    if qs == 0.0:
        raise SpectraError("the c-map is undefined at q* = 0 (c* = 1 by convention)")
    out = (sigma_w**2 * _cmap_terms(c, qs, act, act.phi) + sigma_b**2) / qs
    return out if np.ndim(c) else float(out[0])


def c_star(sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None) -> float:
    """[T16] The stable fixed point c* of the c-map.

    Ordered (chi_1 <= 1): c* = 1. Chaotic: the root of cmap(c) = c in [0, 1 - 1e-6]
    (the unstable root c = 1 is never returned); odd phi with sigma_b = 0 gives c* = 0.
    q* = 0 gives c* = 1 [pitfall 6]. Activations with cmap(0) < 0 search [-1, 1 - 1e-6].
    """
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    return _c_star(sigma_w, sigma_b, act, qs)


def _c_star(sigma_w: float, sigma_b: float, act: _NumpyAct, qs: float) -> float:
    if qs == 0.0:
        return 1.0
    chi1 = sigma_w**2 * float(_mu1(qs, act))
    if sigma_b == 0.0 and act.odd:  # cmap is odd: c* = 0 once c = 1 is unstable [T16]
        return 0.0 if chi1 > 1.0 else 1.0
    if chi1 <= 1.0 + _CRIT_TOL:  # ordered, or on the critical line up to rounding
        return 1.0

    def g(c):
        return (sigma_w**2 * float(_cmap_terms(c, qs, act, act.phi)[0]) + sigma_b**2) / qs - c

    hi = 1.0 - 1e-6
    lo = 0.0 if g(0.0) >= 0.0 else -1.0
    if g(hi) >= 0.0:  # barely chaotic: c* lies in (1 - 1e-6, 1)
        return 1.0
    if g(lo) < 0.0:  # pragma: no cover - no root in [-1, 1) (pathological phi)
        raise SpectraError(f"no stable c* < 1 found for {act.name} at these parameters")
    return float(brentq(g, lo, hi, xtol=_XTOL))


def chi_c(sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None) -> float:
    """[T15] chi_c* = sigma_w^2 E phi'(u1) phi'(u2) at c = c* (equals chi_1 when c* = 1)."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    cs = _c_star(sigma_w, sigma_b, act, qs)
    return _chi_c(sigma_w, act, qs, cs)


def _chi_c(sigma_w: float, act: _NumpyAct, qs: float, cs: float) -> float:
    if cs == 1.0:
        return float(sigma_w**2 * _mu1(qs, act))
    return float(sigma_w**2 * _cmap_terms(cs, qs, act, act.dphi)[0])


def depth_scale(chi) -> np.ndarray | float:
    """xi = -1 / log(chi) for chi in (0, 1) (ξ_c [T15], ξ_q [T11], ξ_m [T19]).

    |chi - 1| <= 1e-12 gives inf (critical, up to rounding); chi = 0 gives 0 ([T19],
    lambda_m = 0); chi > 1 gives -1/log(chi) < 0 (growth, as a negative scale).
    Array in, array out.
    """
    x = np.asarray(chi, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = np.where(x <= 0.0, 0.0, -1.0 / np.log(np.where(x <= 0.0, 0.5, x)))
    out = np.where(np.abs(x - 1.0) <= _CRIT_TOL, np.inf, out)
    return float(out) if out.ndim == 0 else out


def mean_field(sigma_w: float, sigma_b: float, activation="tanh") -> dict:
    """One row of the DESIGN ``meanfield.csv``: activation, sigma_w, sigma_b, q_star,
    c_star, chi_1, chi_c, chi_q, xi_c, xi_q."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = resolve_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act)
    cs = _c_star(sigma_w, sigma_b, act, qs)
    c1 = float(sigma_w**2 * _mu1(qs, act))
    cc = _chi_c(sigma_w, act, qs, cs)
    cq = float(sigma_w**2 * _expect(lambda u: act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u), qs))
    return {
        "activation": act.name,
        "sigma_w": sigma_w,
        "sigma_b": sigma_b,
        "q_star": qs,
        "c_star": cs,
        "chi_1": c1,
        "chi_c": cc,
        "chi_q": cq,
        "xi_c": depth_scale(cc),
        "xi_q": depth_scale(cq),
    }


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


def _crit_numerator(q: float, act: _NumpyAct) -> float:
    """q E phi'(sqrt q z)^2 - E phi(sqrt q z)^2, stable for small q (tanh, erf: Taylor
    series for q < 1e-3, where the two terms agree to ~8 digits; THEORY [T16])."""
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
    q = _check_real("q_star", q_star, positive=True)
    act = resolve_activation(activation)
    mu1 = float(_mu1(q, act))
    if not mu1 > 0.0:
        raise SpectraError(f"{act.name} has E phi'^2 = 0 at q*={q:g}: no critical point")
    num = _crit_numerator(q, act)
    # Round-off tolerance: the two terms are O(q); a relative 1e-13 is noise.
    if num < -1e-13 * max(q, 1.0):
        raise SpectraError(f"{act.name} has no critical point with q*={q:g} (sigma_b^2 < 0)")
    return math.sqrt(1.0 / mu1), math.sqrt(max(num, 0.0) / mu1)


def _critical_q(sigma_b: float, act: _NumpyAct) -> float:
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

    At sigma_b = 0 this is 1/|phi'(0)| (tanh: 1, q* = 0). THEORY Table 1 is met to 1e-7.
    """
    sigma_b = _check_real("sigma_b", sigma_b, nonneg=True)
    act = resolve_activation(activation)
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
    - ``sigma_b`` alone: the critical point at that bias, sigma_w = critical_sigma_w.
    Giving ``q_star`` together with sigma_w/sigma_b, or ``sigma_w`` alone, is a SpectraError.
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise SpectraError(f"depth must be a positive integer, got {depth!r}")
    act = resolve_activation(activation)
    if q_star is not None and (sigma_w is not None or sigma_b is not None):
        raise SpectraError("give either q_star or sigma_w/sigma_b, not both")
    if sigma_w is not None and sigma_b is not None:
        sw, sb = _check_ws(sigma_w, sigma_b)
        return sw, sb, _q_star(sw, sb, act)
    if sigma_w is not None:
        raise SpectraError("sigma_w given without sigma_b; give both (or only sigma_b)")
    if sigma_b is not None:
        sb = _check_real("sigma_b", sigma_b, nonneg=True)
        if sb == 0.0:
            return critical_sigma_w(0.0, act), 0.0, 0.0
        q = _critical_q(sb, act)
        return math.sqrt(1.0 / float(_mu1(q, act))), sb, q
    q = 1.0 / depth if q_star is None else _check_real("q_star", q_star, positive=True)
    sw, sb = critical_point(q, act)
    return sw, sb, q


# Re-exports: the phase grid, Fourier modes and the conv covariance map live in their own
# modules (split by concept); they import this one lazily, so this is cycle-free.
from .meanfield_conv import (  # noqa: E402
    appendix_f_perturbation,
    covariance_map,
    ensemble_first_diagonal,
    first_diagonal_modes,
    fit_decay_rate,
    fixed_point_covariance,
    iterate_covariance_map,
)
from .meanfield_grid import critical_line, phase_grid  # noqa: E402
from .meanfield_modes import (  # noqa: E402
    fourier_eigenvalues,
    mode_depth_scales,
    modes_frame,
    sorted_singular_values,
)

__all__ += [
    "fourier_eigenvalues",
    "mode_depth_scales",
    "sorted_singular_values",
    "modes_frame",
    "phase_grid",
    "critical_line",
    "fixed_point_covariance",
    "covariance_map",
    "iterate_covariance_map",
    "first_diagonal_modes",
    "appendix_f_perturbation",
    "ensemble_first_diagonal",
    "fit_decay_rate",
]
