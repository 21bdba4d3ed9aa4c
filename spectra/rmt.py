"""Random-matrix theory: Marchenko–Pastur, quarter circle, and the free-probability
spectrum of J Jᵀ for deep networks with Gaussian or orthogonal weights (THEORY.md §6).

Public API (signatures are stable; the Jacobian CLI relies on the last four)::

    marchenko_pastur_density(x, ratio=1.0, sigma=1.0) -> ndarray      # [T32], continuous part
    marchenko_pastur_cdf(x, ratio=1.0, sigma=1.0) -> ndarray          # with the atom at 0
    quarter_circle_density(s, sigma=1.0) -> ndarray                   # [T33]
    quarter_circle_cdf(s, sigma=1.0) -> ndarray
    derivative_law(q_star, activation="tanh", nodes=400) -> (d, w)    # law of φ'(h)², [T28]
    theory_moments(depth, weights, sigma_w=None, sigma_b=None, activation="tanh",
                   *, q_star=None) -> (mean, var)                     # of J Jᵀ, [T34]
    jacobian_density(lam, *, depth, weights, sigma_w=None, sigma_b=None,
                     activation="tanh", q_star=None, eta=1e-9) -> ndarray   # ρ(λ) per unit λ
    jacobian_log_density(log_lam, *, ...same keywords...) -> ndarray  # λρ(λ) per unit log λ
    density_frame(depth, weights, *, sigma_w=None, sigma_b=None, q_star=None,
                  activation="tanh", points=2000, eta=1e-9) -> pandas.DataFrame
    frame_moments(frame, orders=(1, 2, 3, 4)) -> ndarray              # ∫ λ^k dρ from a frame
    ks_distance(singular_values, law, *, log=False) -> float           # KS on s²
    wasserstein_log(singular_values, law, *, log=False) -> float       # W1 on log s²

Conventions:

- ``weights``: ``"gaussian"`` or ``"orth"``; the init names of :mod:`spectra.kernels` are
  accepted and mapped by their free-probability law (``gaussian``, ``gs0``–``gs4``,
  ``dense-gaussian`` → Gaussian; ``orth``, ``delta-orth``, ``dense-orth`` → orthogonal).
- Operating point: as :func:`spectra.meanfield.operating_point` — give ``sigma_w`` and
  ``sigma_b`` (q* is their fixed point [T10]), or ``q_star`` (the critical point with that
  q* [T16]), or neither (critical, q* = 1/depth). Giving both is a :class:`SpectraError`.
- ``density_frame`` columns: ``lambda`` (λ = s², may underflow to 0 for very deep Gaussian
  nets), ``log_lambda`` (exact natural log), ``density`` (ρ(λ) per unit λ; may overflow),
  ``density_log`` (λρ(λ) per unit log λ), ``cdf`` (P(s² ≤ λ), including any atom),
  ``weight`` (quadrature weight in log λ: ∫ g dρ ≈ Σ weight · density_log · g), ``atom``
  (a point mass at that λ). The continuous part is normalised to 1 − (atoms); the raw
  integral before normalising is ``frame.attrs["mass"]``. ``attrs`` also holds
  ``log_support`` (ℓ₋, ℓ₊), ``sigma_w``, ``sigma_b``, ``q_star``, ``depth``, ``weights``,
  ``activation`` and ``point_mass`` (λ of the atom of an exactly isometric-up-to-scale
  net — linear or q* = 0 with orthogonal weights — else None).
- ``ks_distance`` / ``wasserstein_log``: ``singular_values`` are the empirical s (or log s
  with ``log=True``, e.g. the ``log_singular_value`` column, exact where s² underflows);
  ``law`` is a :func:`density_frame` (KS and W1) or, for KS only, a callable CDF of λ = s².
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .activations import get_activation
from .errors import SpectraError
from .freeprob import MasterSystem
from .quadrature import half_line_nodes

__all__ = [
    "marchenko_pastur_density",
    "marchenko_pastur_cdf",
    "quarter_circle_density",
    "quarter_circle_cdf",
    "derivative_law",
    "theory_moments",
    "jacobian_density",
    "jacobian_log_density",
    "density_frame",
    "frame_moments",
    "ks_distance",
    "wasserstein_log",
    "weight_law",
]

_GAUSSIAN = {"gaussian", "gs0", "gs1", "gs2", "gs3", "gs4", "dense-gaussian"}
_ORTH = {"orth", "orthogonal", "delta-orth", "dense-orth"}


# ---------------------------------------------------------------------- classical laws
def _check_pos(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise SpectraError(f"{name} must be a positive number, got {value!r}")
    return v


def marchenko_pastur_density(x, ratio: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """[T32] Continuous part of the Marchenko–Pastur density of the eigenvalues of W Wᵀ.

    W is N×M with entry variance σ²/M and ``ratio`` γ = N/M; the density is
    √((b−x)(x−a)) / (2πσ²γx) on [a, b] = σ²(1 ∓ √γ)². For γ > 1 there is also an atom
    1 − 1/γ at 0 (see :func:`marchenko_pastur_cdf`), not included here.
    """
    g, s2 = _check_pos("ratio", ratio), _check_pos("sigma", sigma) ** 2
    x = np.asarray(x, dtype=np.float64)
    a, b = s2 * (1 - math.sqrt(g)) ** 2, s2 * (1 + math.sqrt(g)) ** 2
    inside = (x > a) & (x < b)
    xs = np.where(inside, x, 0.5 * (a + b))
    val = np.sqrt(np.maximum((b - xs) * (xs - a), 0.0)) / (2 * np.pi * s2 * g * xs)
    return np.where(inside, val, 0.0)


def marchenko_pastur_cdf(x, ratio: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """[T32] P(eigenvalue ≤ x) for Marchenko–Pastur, including the atom (1 − 1/γ)⁺ at 0.

    Closed form: with x = m + h cos φ (m, h the centre and half-width of [a, b]) the
    integrand becomes m − h cos φ − (m² − h²)/(m + h cos φ), integrated exactly.
    """
    g, s2 = _check_pos("ratio", ratio), _check_pos("sigma", sigma) ** 2
    x = np.asarray(x, dtype=np.float64)
    a, b = s2 * (1 - math.sqrt(g)) ** 2, s2 * (1 + math.sqrt(g)) ** 2
    m, h = 0.5 * (a + b), 0.5 * (b - a)
    atom = max(1.0 - 1.0 / g, 0.0)
    # phi runs from pi (x = a) down to 0 (x = b); F(x) = atom + I(phi(x)) with
    # I(phi) = (1/(2 pi s2 g)) int_phi^pi h^2 sin^2 t / (m + h cos t) dt, whose
    # antiderivative is m t - h sin t - 2k atan(sqrt((m-h)/(m+h)) tan(t/2)), k^2 = m^2-h^2.
    xc = np.clip(x, a, b)
    phi = np.arccos(np.clip((xc - m) / h, -1.0, 1.0))
    k = math.sqrt(max(m * m - h * h, 0.0))

    def anti(t):
        if k == 0.0:
            return m * t - h * np.sin(t)
        c = math.sqrt((m - h) / (m + h))
        return m * t - h * np.sin(t) - 2 * k * np.arctan(c * np.tan(t / 2))

    with np.errstate(all="ignore"):
        top = m * np.pi - 2 * k * (np.pi / 2)  # limit of anti(t) as t -> pi
        val = (top - anti(phi)) / (2 * np.pi * s2 * g)
    cont = np.where(x >= b, 1.0 - atom, np.where(x <= a, 0.0, val))
    return np.where(x >= 0, atom + cont, 0.0)


def quarter_circle_density(s, sigma: float = 1.0) -> np.ndarray:
    """[T33] Density √(4σ² − s²)/(πσ²) on [0, 2σ] of the singular values of an N×N matrix
    with entry variance σ²/N."""
    s2 = _check_pos("sigma", sigma) ** 2
    s = np.asarray(s, dtype=np.float64)
    inside = (s >= 0) & (s <= 2 * math.sqrt(s2))
    return np.where(inside, np.sqrt(np.maximum(4 * s2 - s * s, 0.0)) / (np.pi * s2), 0.0)


def quarter_circle_cdf(s, sigma: float = 1.0) -> np.ndarray:
    """[T33] CDF of the quarter-circle law: with s = 2σ sin θ, F = (2θ + sin 2θ)/π."""
    sig = _check_pos("sigma", sigma)
    s = np.asarray(s, dtype=np.float64)
    th = np.arcsin(np.clip(s / (2 * sig), 0.0, 1.0))
    return (2 * th + np.sin(2 * th)) / np.pi


# ---------------------------------------------------------------------- inputs
def weight_law(weights: str) -> int:
    """κ of [T29] for a weight-law or init name: 0 Gaussian, 1 orthogonal."""
    key = str(weights).lower()
    if key in _GAUSSIAN:
        return 0
    if key in _ORTH:
        return 1
    raise SpectraError(f"unknown weights {weights!r}; choose gaussian or orth")


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise SpectraError(f"depth must be a positive integer, got {depth!r}")
    return int(depth)


def _operating_point(depth, sigma_w, sigma_b, q_star, activation) -> tuple[float, float, float]:
    """(σ_w, σ_b, q*) by :func:`spectra.meanfield.operating_point`; a linear net needs no q*."""
    from .meanfield import operating_point

    act = get_activation(activation)
    if q_star is not None:
        q = float(q_star)
        if not (math.isfinite(q) and q > 0):
            raise SpectraError(f"q_star must be a positive number, got {q_star!r}")
    if act.name == "linear" and sigma_w is not None:
        sw = _check_pos("sigma_w", sigma_w)
        return sw, float(sigma_b or 0.0), 0.0
    return operating_point(
        depth, sigma_w=sigma_w, sigma_b=sigma_b, q_star=q_star, activation=activation
    )


def derivative_law(
    q_star: float, activation="tanh", nodes: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """[T28] Atoms ``d`` and weights ``w`` (summing to ~1) of the law of d = φ'(h)², h ~ N(0, q*).

    Gauss–Legendre in |z| on [0, 12] (:func:`spectra.quadrature.half_line_nodes`), at
    h = ±√q* r with half the weight each; merged to one set when φ'² is even (tanh, erf),
    and to a single atom when d is constant (linear, or q* = 0).
    """
    act = get_activation(activation)
    r, w = half_line_nodes(nodes)
    sq = math.sqrt(max(float(q_star), 0.0))
    dp = np.asarray(act.dphi(sq * r), dtype=np.float64) ** 2
    dm = np.asarray(act.dphi(-sq * r), dtype=np.float64) ** 2
    if np.allclose(dp, dm, rtol=1e-14, atol=0.0):
        d, wt = dp, np.asarray(w, dtype=np.float64)
    else:
        d, wt = np.concatenate([dp, dm]), np.concatenate([w, w]) * 0.5
    wt = wt / wt.sum()
    if d.max() - d.min() <= 1e-15 * max(d.max(), 1e-300):
        return np.array([float(d[0])]), np.array([1.0])
    return d, wt


def _system(depth, weights, sigma_w, sigma_b, q_star, activation, nodes=400):
    L = _check_depth(depth)
    kappa = weight_law(weights)
    act = get_activation(activation)
    sw, sb, q = _operating_point(L, sigma_w, sigma_b, q_star, act)
    d, w = derivative_law(q, act, nodes)
    return MasterSystem(d, w, L, sw, kappa), (sw, sb, q, act.name, kappa)


# ---------------------------------------------------------------------- moments
def theory_moments(
    depth: int,
    weights: str,
    sigma_w: float | None = None,
    sigma_b: float | None = None,
    activation="tanh",
    *,
    q_star: float | None = None,
) -> tuple[float, float]:
    """[T34] Closed-form mean and variance of the eigenvalues of J Jᵀ (= of s²).

    mean = (σ_w² μ₁)^L = χ₁^L and var = mean² · L (μ₂/μ₁² − 1 − s₁), s₁ = −1 (Gaussian)
    or 0 (orthogonal), μ_k = E φ'(h)^{2k}, h ~ N(0, q*) — exact at every depth, since the
    first two coefficients of the S-transform multiply exactly [T25]–[T27]. Returns
    floats (inf where they overflow).
    """
    ms, (_, _, _, _, kappa) = _system(depth, weights, sigma_w, sigma_b, q_star, activation)
    L = ms.L
    log_mean = L * (ms.log_s2 + math.log(ms.mu1))
    spread = L * (ms.mu2 / ms.mu1**2 - 1.0 + (1 - kappa))
    with np.errstate(over="ignore"):
        mean = float(np.exp(log_mean))
        var = float(np.exp(2 * log_mean) * spread) if spread > 0 else 0.0
    return mean, var


# ---------------------------------------------------------------------- densities
def _point_mass(ms: MasterSystem) -> float | None:
    """log λ of the point mass of an orthogonal net with constant d [T31], else None."""
    if ms.kappa == 1 and ms.degenerate:
        return ms.L * (ms.log_s2 + math.log(ms.d[0]))
    return None


class _Depth1Orth:
    """Orthogonal weights at depth 1: J Jᵀ = σ_w² D² exactly, so λ = σ_w² φ'(h)², h ~ N(0, q*)
    [T28] — no free convolution, and the law is not smooth enough for the solver (its
    discretisation by nodes shows). For φ'² even and strictly decreasing in |h| (tanh,
    erf) it is written in closed form: with λ = Λ(r), r = |h|/√q*, P(λ ≤ Λ(r)) =
    erfc(r/√2) and λρ(λ) = 2 φ_N(r) / |dℓ/dr|, dℓ/dr = 2√q* φ''/φ'."""

    def __init__(self, sigma_w: float, q: float, activation):
        self.act = get_activation(activation)
        self.sw2, self.sq = sigma_w**2, math.sqrt(q)
        r = np.linspace(1e-3, 12.0, 200)
        slope = self.dell(r)
        even = np.allclose(self.act.dphi(-self.sq * r), self.act.dphi(self.sq * r), rtol=1e-12)
        if not (q > 0 and even and np.all(slope < 0)):
            raise SpectraError(
                f"orthogonal weights at depth 1 need phi'^2 even and decreasing in |h| "
                f"(tanh, erf), not {self.act.name}"
            )
        self.top = self.ell(np.zeros(1))[0]

    def ell(self, r: np.ndarray) -> np.ndarray:
        return math.log(self.sw2) + 2.0 * np.log(np.abs(self.act.dphi(self.sq * r)))

    def dell(self, r: np.ndarray) -> np.ndarray:
        h = self.sq * r
        return 2.0 * self.sq * self.act.d2phi(h) / self.act.dphi(h)

    def density_log(self, r: np.ndarray) -> np.ndarray:
        return 2.0 * np.exp(-0.5 * r * r) / math.sqrt(2 * math.pi) / np.abs(self.dell(r))

    def radius(self, ell: np.ndarray) -> np.ndarray:
        """r with ℓ(r) = ell (ℓ decreasing in r), by bisection on [0, 40]."""
        lo, hi = np.zeros(ell.shape), np.full(ell.shape, 40.0)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            above = self.ell(mid) > ell
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return 0.5 * (lo + hi)


def jacobian_log_density(
    log_lam,
    *,
    depth: int,
    weights: str,
    sigma_w: float | None = None,
    sigma_b: float | None = None,
    activation="tanh",
    q_star: float | None = None,
    eta: float = 1e-9,
) -> np.ndarray:
    """λρ(λ), the density of the eigenvalues of J Jᵀ per unit log λ, at ``log_lam`` (any shape).

    Solves the master system [T29] by the continuation of [T30] (see
    :mod:`spectra.freeprob`); works in ℓ = log λ throughout, so any depth (to 10⁴ and
    beyond) and any range of λ is fine. Exactly 0 above the upper support edge. For an
    orthogonal net with constant φ'² (linear, or q* = 0) the law is a point mass and this
    returns zeros (see :func:`density_frame`, which reports the atom). Exactly 0 below the
    lower edge of orthogonal nets too.
    """
    ell = np.asarray(log_lam, dtype=np.float64)
    if not np.all(np.isfinite(ell)):
        raise SpectraError("log_lam must be finite")
    ms, (sw, _, q, _, _) = _system(depth, weights, sigma_w, sigma_b, q_star, activation)
    out = np.zeros(ell.shape)
    if _point_mass(ms) is not None or ell.size == 0:
        return out
    if ms.L == 1 and ms.kappa == 1:
        one = _Depth1Orth(sw, q, activation)
        inside = ell < one.top
        out[inside] = one.density_log(one.radius(ell[inside]))
        return out
    ehi = ms.upper_edge()
    elo = ms.lower_edge()  # orthogonal weights: a hard lower edge (None for Gaussian)
    inside = (ell < ehi) & (ell > (elo if elo is not None and elo < ehi else -np.inf))
    if inside.any():
        lo = float(ell[inside].min())
        ray = ms.ray(ehi + 3.0, min(lo, ehi) - 1.0, mass_tol=0.0)
        out[inside] = ms.solve_grid(ell[inside], ray, eta=eta)
    return out


def jacobian_density(
    lam,
    *,
    depth: int,
    weights: str,
    sigma_w: float | None = None,
    sigma_b: float | None = None,
    activation="tanh",
    q_star: float | None = None,
    eta: float = 1e-9,
) -> np.ndarray:
    """ρ(λ), the limiting density of the eigenvalues of J Jᵀ (per unit λ) at ``lam`` > 0.

    THEORY [T26]–[T30]: S_{JJᵀ} = (S_W S_{D²})^L with S_W from [T27] (``weights``) and
    the law of D² from [T28]. Same keywords as :func:`jacobian_log_density`; values
    that overflow float64 are inf. The singular-value density is 2sρ(s²) [T30].
    """
    lam = np.asarray(lam, dtype=np.float64)
    if np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise SpectraError("lam must be positive and finite (use jacobian_log_density for λ≈0)")
    ell = np.log(lam)
    dl = jacobian_log_density(
        ell,
        depth=depth,
        weights=weights,
        sigma_w=sigma_w,
        sigma_b=sigma_b,
        activation=activation,
        q_star=q_star,
        eta=eta,
    )
    return dl / lam


# Shares of the grid: the top (square-root) edge over the whole range and over its top
# region (where the λ^k-weighted mass of the moments sits), the bulk, uniform coverage.
_MIX = (0.1, 0.3, 0.4, 0.2)
# With a hard lower edge (orthogonal weights): arccos (Chebyshev) clustering at both
# square-root edges, the bulk, uniform coverage.
_MIX_HARD = (0.5, 0.35, 0.15)


class _GridMap:
    """A monotone map ξ ∈ [0, 1] → ℓ ∈ [ℓ₋, ℓ₊] whose uniform grid is the frame's grid.

    Without a hard lower edge: a mixture of √(ℓ₊ − ℓ) terms over the whole range and,
    more strongly, over the top ``top`` nats (they cluster points at the square-root edge
    and make the integrand analytic in ξ there), an arctan around the bulk (centre ℓ_c,
    width w from the closed-form moments), and a uniform part. With one (orthogonal
    weights): arccos clustering at both edges, the bulk arctan, and a uniform part.
    """

    def __init__(self, lo: float, hi: float, centre: float, width: float, hard_lo: bool):
        self.lo, self.hi, self.c, self.hard_lo = lo, hi, centre, hard_lo
        self.mid, self.half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        self.span = hi - lo
        self.w = min(max(width, 1e-9 * max(1.0, abs(hi))), self.span)
        self.top = min(self.span, 10.0 + 3.0 * self.w)
        ymax = math.sqrt(self.span / self.top)
        self.fmax = ymax / (1.0 + ymax)
        self.a0 = math.atan((lo - centre) / self.w)
        self.a1 = math.atan((hi - centre) / self.w)

    def xi(self, ell: np.ndarray) -> np.ndarray:
        if self.hard_lo:
            a, b, c = _MIX_HARD
            cheb = np.arccos(np.clip((self.mid - ell) / self.half, -1.0, 1.0)) / np.pi
            return a * cheb + b * self._bulk(ell) + c * (ell - self.lo) / self.span
        a, a2, b, c = _MIX
        gap = np.maximum(self.hi - ell, 0.0)
        tau = 1.0 - np.sqrt(gap / self.span)
        y = np.sqrt(gap / self.top)  # smooth top-region term: 1 - f(y)/f(y_max), f = y/(1+y)
        tau2 = 1.0 - (y / (1.0 + y)) / self.fmax
        return a * tau + a2 * tau2 + b * self._bulk(ell) + c * (ell - self.lo) / self.span

    def _bulk(self, ell: np.ndarray) -> np.ndarray:
        return (np.arctan((ell - self.c) / self.w) - self.a0) / (self.a1 - self.a0)

    def _dbulk(self, ell: np.ndarray) -> np.ndarray:
        u = (ell - self.c) / self.w
        return 1.0 / (self.w * (1.0 + u * u) * (self.a1 - self.a0))

    def dxi(self, ell: np.ndarray) -> np.ndarray:
        if self.hard_lo:
            a, b, c = _MIX_HARD
            with np.errstate(divide="ignore", invalid="ignore"):
                cheb = 1.0 / (np.pi * np.sqrt(np.maximum((ell - self.lo) * (self.hi - ell), 0.0)))
            return a * cheb + b * self._dbulk(ell) + c / self.span
        a, a2, b, c = _MIX
        gap = np.maximum(self.hi - ell, 0.0)
        with np.errstate(divide="ignore"):
            tau = 0.5 / np.sqrt(self.span * gap)
            y = np.sqrt(gap / self.top)
            tau2 = 0.5 / np.sqrt(self.top * gap) / (1.0 + y) ** 2 / self.fmax
        return a * tau + a2 * tau2 + b * self._dbulk(ell) + c / self.span

    def grid(self, n: int) -> np.ndarray:
        target = np.linspace(0.0, 1.0, n)
        lo, hi = np.full(n, self.lo), np.full(n, self.hi)
        for _ in range(80):  # bisection: 80 halvings resolve any float64 span
            mid = 0.5 * (lo + hi)
            below = self.xi(mid) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        ell = 0.5 * (lo + hi)
        ell[0], ell[-1] = self.lo, self.hi
        return ell


def _simpson_weights(n: int) -> np.ndarray:
    """Composite Simpson weights on n uniform unit-spaced points (3/8 rule closes even n)."""
    w = np.zeros(n)
    if n < 4:
        w[:] = 1.0
        w[[0, -1]] = 0.5
        return w
    m = n if n % 2 == 1 else n - 3
    w[:m:2] += 2.0 / 3.0
    w[1:m:2] += 4.0 / 3.0
    w[0] -= 1.0 / 3.0
    w[m - 1] -= 1.0 / 3.0
    if m < n:
        w[m - 1 :] += np.array([3.0, 9.0, 9.0, 3.0]) / 8.0
    return w


def density_frame(
    depth: int,
    weights: str,
    *,
    sigma_w: float | None = None,
    sigma_b: float | None = None,
    q_star: float | None = None,
    activation="tanh",
    points: int = 2000,
    eta: float = 1e-9,
) -> pd.DataFrame:
    """The spectrum of J Jᵀ as a tidy frame on an automatic logarithmic grid.

    The upper edge ℓ₊ is exact (minimum of z(u) on the real branch u > max d); so is the
    lower edge ℓ₋ of orthogonal nets (maximum of z(u) on 0 < u < min d); for Gaussian
    nets, whose spectrum reaches 0, ℓ₋ is where the mass below is < 1e-13 (walk of the
    ray t = 1, [T30]). The
    ``points`` grid points cluster at the edge and in the bulk (:class:`_GridMap`);
    ``weight`` holds Simpson weights in ξ mapped to log λ, so integrals are
    fourth-order accurate. Columns and ``attrs``: see the module docstring.
    """
    n = int(points)
    if n < 16:
        raise SpectraError(f"points must be at least 16, got {points!r}")
    ms, (sw, sb, q, act, kappa) = _system(depth, weights, sigma_w, sigma_b, q_star, activation)
    attrs = {
        "depth": ms.L,
        "weights": "orth" if kappa else "gaussian",
        "activation": act,
        "sigma_w": sw,
        "sigma_b": sb,
        "q_star": q,
        "eta": eta,
        "point_mass": None,
        "atom_at_zero": ms.p0,
    }
    pm = _point_mass(ms)
    if pm is None and ms.L == 1 and ms.kappa == 1:
        df = _depth1_orth_frame(_Depth1Orth(sw, q, act), n)
        attrs.update(mass=1.0, log_support=(float(df["log_lambda"].iloc[0]), df.attrs["top"]))
        df.attrs.clear()
        df.attrs.update(attrs)
        return df
    if pm is not None:
        df = pd.DataFrame(
            {
                "lambda": [math.exp(pm)] if pm < 709 else [math.inf],
                "log_lambda": [pm],
                "density": [0.0],
                "density_log": [0.0],
                "cdf": [1.0],
                "weight": [0.0],
                "atom": [1.0],
            }
        )
        attrs.update(mass=1.0, log_support=(pm, pm), point_mass=float(np.exp(pm)))
        df.attrs.update(attrs)
        return df
    ehi = ms.upper_edge()
    hard = ms.lower_edge()
    if hard is not None and hard < ehi:
        ray = ms.ray(ehi + 3.0, hard - 1.0, mass_tol=0.0)
        elo = hard
    else:
        ray = ms.ray(ehi + 3.0, ehi - 60.0 * (ms.L + 1) - 100.0)
        elo, hard = float(ray.stop), None
    log_mean = ms.L * (ms.log_s2 + math.log(ms.mu1))
    spread = ms.L * (ms.mu2 / ms.mu1**2 - 1.0 + (1 - kappa))
    width = math.sqrt(math.log1p(max(spread, 0.0)))
    gmap = _GridMap(elo, ehi, log_mean - 0.5 * width**2, width, hard is not None)
    ell = gmap.grid(n)
    dens = ms.solve_grid(ell, ray, eta=eta)
    dens[-1] = 0.0  # the square-root edge itself
    if hard is not None:
        dens[0] = 0.0
    with np.errstate(divide="ignore"):
        wq = _simpson_weights(n) / (n - 1) / gmap.dxi(ell)
    wq[~np.isfinite(wq)] = 0.0
    mass = float(np.dot(wq, dens))
    cont = 1.0 - ms.p0
    dens_n = dens * (cont / mass)
    # CDF by the trapezoid rule in ℓ (second order), closed to exactly 1 at the top.
    inc = 0.5 * (dens_n[1:] + dens_n[:-1]) * np.diff(ell)
    cum = np.concatenate([[0.0], np.cumsum(inc)])
    cdf = ms.p0 + cont * cum / cum[-1]
    with np.errstate(over="ignore", divide="ignore"):
        lam = np.exp(ell)
        density = np.exp(np.log(np.maximum(dens_n, 1e-320)) - ell)
    density[dens_n <= 0] = 0.0
    df = pd.DataFrame(
        {
            "lambda": lam,
            "log_lambda": ell,
            "density": density,
            "density_log": dens_n,
            "cdf": cdf,
            "weight": wq,
            "atom": np.zeros(n),
        }
    )
    attrs.update(mass=mass + ms.p0, log_support=(elo, ehi))
    df.attrs.update(attrs)
    return df


def _depth1_orth_frame(one: _Depth1Orth, n: int) -> pd.DataFrame:
    """The frame of :class:`_Depth1Orth` on Gauss–Legendre nodes in r ∈ [0, 12] (exact
    weights: Σ weight · density_log = Σ Gauss weights = 1; the top edge, where the density
    diverges like 1/√, is the integrable end r = 0, not a grid point)."""
    from scipy.special import roots_legendre

    x, w = roots_legendre(n)
    r = 6.0 * (x + 1.0)
    wr = 6.0 * w * 2.0 * np.exp(-0.5 * r * r) / math.sqrt(2 * math.pi)
    r, wr = r[::-1], wr[::-1]  # ascending in λ
    ell = one.ell(r)
    dl = one.density_log(r)
    from scipy.special import erfc

    with np.errstate(over="ignore"):
        df = pd.DataFrame(
            {
                "lambda": np.exp(ell),
                "log_lambda": ell,
                "density": dl / np.exp(ell),
                "density_log": dl,
                "cdf": erfc(r / math.sqrt(2.0)),
                "weight": wr / dl,
                "atom": np.zeros(n),
            }
        )
    df.attrs["top"] = float(one.top)
    return df


def frame_moments(frame: pd.DataFrame, orders: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """∫ λ^k dρ for each k in ``orders``, from a :func:`density_frame` (atoms included).

    Integrates in log λ with the frame's quadrature weights: Σ weight · density_log · λ^k.
    """
    ell = frame["log_lambda"].to_numpy()
    g = frame["weight"].to_numpy() * frame["density_log"].to_numpy()
    atom = frame["atom"].to_numpy()
    out = []
    for k in orders:
        with np.errstate(over="ignore"):
            xk = np.exp(k * ell)
        out.append(float(np.dot(g, xk) + np.dot(atom, xk)))
    return np.array(out)


# ---------------------------------------------------------------------- distances
def _empirical_log_lambda(singular_values, log: bool) -> np.ndarray:
    s = np.asarray(
        singular_values.detach().cpu().numpy()
        if hasattr(singular_values, "detach")
        else singular_values,
        dtype=np.float64,
    ).ravel()
    if s.size == 0:
        raise SpectraError("no singular values given")
    if log:
        return np.sort(2.0 * s)
    if np.any(s < 0) or np.any(np.isnan(s)):
        raise SpectraError("singular values must be non-negative")
    with np.errstate(divide="ignore"):
        return np.sort(2.0 * np.log(s))


def _frame_cdf(frame: pd.DataFrame) -> tuple[Callable, Callable]:
    """F(ℓ) = P(log s² ≤ ℓ) and its left limit F(ℓ⁻) from a frame: linear in ℓ between
    grid points; a point mass is a jump (values within 1e-9 relative in log λ count as
    on it, so a float64 isometry, with roundoff ~1e-16, is at distance 0)."""
    ell = frame["log_lambda"].to_numpy()
    cdf = frame["cdf"].to_numpy()
    p0 = float(frame.attrs.get("atom_at_zero", 0.0) or 0.0)
    if frame["atom"].to_numpy().sum() > 0 and len(frame) == 1:
        tol = 1e-9 * max(1.0, abs(ell[0]))
        lo, hi = ell[0] - tol, ell[0] + tol
        return (
            lambda x: np.where(np.asarray(x) >= lo, 1.0, 0.0),
            lambda x: np.where(np.asarray(x) > hi, 1.0, 0.0),
        )

    def F(x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(x < ell[0], p0, np.interp(x, ell, cdf, left=p0, right=1.0))

    return F, F


def ks_distance(singular_values, law, *, log: bool = False) -> float:
    """Kolmogorov–Smirnov distance sup |F_emp − F| between the empirical law of s² and ``law``.

    ``law`` is a :func:`density_frame` (compared in log λ, exact where s² under/overflows)
    or a callable CDF of λ = s². ``log=True``: ``singular_values`` are natural logs of s.
    """
    x = _empirical_log_lambda(singular_values, log)
    n = x.size
    if isinstance(law, pd.DataFrame):
        cdf, left = _frame_cdf(law)
        F, F_left = cdf(x), left(x)
    elif callable(law):  # taken as continuous
        with np.errstate(over="ignore"):
            F = F_left = np.asarray(law(np.exp(x)), dtype=np.float64)
    else:
        raise SpectraError("law must be a density frame or a CDF callable")
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - F), np.max(F_left - (i - 1) / n), 0.0))


def wasserstein_log(singular_values, law: pd.DataFrame, *, log: bool = False) -> float:
    """Wasserstein-1 distance between the empirical law of log s² and that of a frame:
    ∫ |F_emp(ℓ) − F(ℓ)| dℓ, exact for the frame's piecewise-linear CDF. In nats."""
    if not isinstance(law, pd.DataFrame):
        raise SpectraError("law must be a density frame")
    x = _empirical_log_lambda(singular_values, log)
    if not np.all(np.isfinite(x)):
        raise SpectraError("singular values must be positive and finite for wasserstein_log")
    F = _frame_cdf(law)[0]
    ell = law["log_lambda"].to_numpy()
    g = np.unique(np.concatenate([ell, x]))
    fe = np.searchsorted(x, g, side="right") / x.size  # empirical CDF on [g_i, g_{i+1})
    a = fe[:-1] - F(g[:-1])
    b = fe[:-1] - F(g[1:])  # F is linear within each interval (grid points included)
    h = np.diff(g)
    same = a * b >= 0
    part = np.where(same, 0.5 * (np.abs(a) + np.abs(b)) * h, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = 0.5 * h * (a * a + b * b) / (np.abs(a) + np.abs(b))
    part = np.where(same, part, np.nan_to_num(cross))
    return float(part.sum())
