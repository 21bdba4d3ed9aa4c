"""Grids and special cases behind :func:`spectra.rmt.density_frame` (the theory page [T30]).

- :class:`GridMap`: the automatic logarithmic grid (points clustered at the square-root
  support edges and in the bulk, so that Simpson weights in the map's variable integrate
  the density to high order);
- :func:`simpson_weights`;
- :class:`Depth1Orth` / :func:`depth1_orth_frame`: orthogonal weights at depth 1, where
  J Jᵀ = σ_w² D² exactly and the law is written in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..activations import get_activation
from ..errors import SpectraError

# Shares of the grid: the top (square-root) edge over the whole range and over its top
# region (where the λ^k-weighted mass of the moments sits), the bulk, uniform coverage.
_MIX = (0.1, 0.3, 0.4, 0.2)
# With a hard lower edge (orthogonal weights): arccos (Chebyshev) clustering at both
# square-root edges, the bulk, uniform coverage.
_MIX_HARD = (0.5, 0.35, 0.15)


class GridMap:
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


def simpson_weights(n: int) -> np.ndarray:
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


class Depth1Orth:
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


def depth1_orth_frame(one: Depth1Orth, n: int) -> pd.DataFrame:
    """The frame of :class:`Depth1Orth` on Gauss–Legendre nodes in r ∈ [0, 12] (exact
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
