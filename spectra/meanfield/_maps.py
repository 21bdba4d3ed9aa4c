"""Mean-field theory of deep vanilla networks (fully connected and CNN alike).

Everything here is float64 numpy and deterministic (no randomness). Gaussian expectations
use the trapezoid rule of the theory page [T13] (``spectra.quadrature``); fixed points are
solved with ``brentq`` (xtol 1e-15).

- [T10] the q-map ``q_map`` and its fixed point ``q_star``; [T11] ``chi_q``;
  [T12] ``chi_1``.
- [T14] the c-map ``c_map`` and its fixed point ``c_star``; [T15] ``chi_c``;
  ``depth_scale`` gives xi_c and xi_q.
- [T16] the critical line chi_1 = 1: ``critical_point(q)`` -> (sigma_w, sigma_b) and
  ``critical_sigma_w(sigma_b)``; ``operating_point`` is the project's default operating
  point (critical, q* = 1/depth) -- in ``spectra.meanfield_critical``.

The critical line, the phase grid (``meanfield_grid``), Fourier modes [T18]-[T19]
(``meanfield_modes``) and the convolutional covariance map [T17] (``meanfield_conv``) live
in their own modules and are re-exported here: ``spectra.meanfield`` is the public face.

Activations are given by name (tanh, erf, relu, linear) or as a torch callable, see
:func:`spectra.activations.get_activation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq

from ..activations import Activation, get_activation
from ..errors import SpectraError, check_sigma
from ..quadrature import gauss_nodes

_XTOL = 1e-15
_Q_MAX = 1e8  # a q-map fixed point beyond this is treated as divergent
_CRIT_TOL = 1e-12  # chi_1 <= 1 + this counts as critical/ordered (rounding on the line)


# --------------------------------------------------------------------------- activations
# --------------------------------------------------------------------------- validation
def _check_ws(sigma_w, sigma_b) -> tuple[float, float]:
    return (
        check_sigma("sigma_w", sigma_w),
        check_sigma("sigma_b", sigma_b, bias=True),
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
    act = get_activation(activation)
    return sigma_w**2 * _expect(lambda u: act.phi(u) ** 2, q) + sigma_b**2


def _mu1(q, act: Activation) -> np.ndarray:
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
    act = get_activation(activation)
    return _q_star(sigma_w, sigma_b, act)


def _q_star(sigma_w: float, sigma_b: float, act: Activation) -> float:
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
    act = get_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    return float(sigma_w**2 * _mu1(qs, act))


def chi_q(sigma_w: float, sigma_b: float, activation="tanh", *, q: float | None = None) -> float:
    """[T11] chi_q* = V'(q*) = sigma_w^2 E[phi'^2 + phi phi''](sqrt(q*) z)."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = get_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    val = _expect(lambda u: act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u), qs)
    return float(sigma_w**2 * val)


# --------------------------------------------------------------------------- c-map
def _cmap_terms(c, q: float, act: Activation, fn) -> np.ndarray:
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
    act = get_activation(activation)
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
    act = get_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    return _c_star(sigma_w, sigma_b, act, qs)


def _c_star(sigma_w: float, sigma_b: float, act: Activation, qs: float) -> float:
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
    act = get_activation(activation)
    qs = _q_star(sigma_w, sigma_b, act) if q is None else float(q)
    cs = _c_star(sigma_w, sigma_b, act, qs)
    return _chi_c(sigma_w, act, qs, cs)


def _chi_c(sigma_w: float, act: Activation, qs: float, cs: float) -> float:
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
    act = get_activation(activation)
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
