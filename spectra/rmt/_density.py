"""Random-matrix theory: Marchenko–Pastur, quarter circle, and the free-probability
spectrum of J Jᵀ for deep networks with Gaussian or orthogonal weights (the theory page, pitfalls).

Public API (signatures are stable; the Jacobian CLI relies on the last four). The
classical laws live in :mod:`spectra.classical_laws`, the distances in
:mod:`spectra.distances`, the solver in :mod:`spectra.freeprob` and the grid in
:mod:`spectra.freeprob_grid`; all are re-exported here::

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
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..activations import get_activation
from ..errors import SpectraError, check_int
from ..quadrature import half_line_nodes
from ._freeprob import MasterSystem
from ._freeprob_grid import Depth1Orth, GridMap, depth1_orth_frame, simpson_weights

_GAUSSIAN = {"gaussian", "gs0", "gs1", "gs2", "gs3", "gs4", "dense-gaussian"}
_ORTH = {"orth", "orthogonal", "delta-orth", "dense-orth"}


# ---------------------------------------------------------------------- inputs
def weight_law(weights: str) -> int:
    """κ of [T29] for a weight-law or init name: 0 Gaussian, 1 orthogonal."""
    key = str(weights).lower()
    if key in _GAUSSIAN:
        return 0
    if key in _ORTH:
        return 1
    raise SpectraError(f"unknown weights {weights!r}; choose gaussian or orth")


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
    L = check_int("depth", depth, 1)
    kappa = weight_law(weights)
    act = get_activation(activation)
    from ..meanfield import operating_point

    sw, sb, q = operating_point(L, sigma_w=sigma_w, sigma_b=sigma_b, q_star=q_star, activation=act)
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
        one = Depth1Orth(sw, q, activation)
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

    theory [T26]–[T30]: S_{JJᵀ} = (S_W S_{D²})^L with S_W from [T27] (``weights``) and
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
    ray t = 1, [T30]). The ``points`` grid points cluster at the edges and in the bulk
    (:class:`spectra.freeprob_grid.GridMap`); ``weight`` holds Simpson weights in ξ mapped
    to log λ, so integrals are fourth-order accurate. Columns and ``attrs``: see the module
    docstring.
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
        df = depth1_orth_frame(Depth1Orth(sw, q, act), n)
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
    gmap = GridMap(elo, ehi, log_mean - 0.5 * width**2, width, hard is not None)
    ell = gmap.grid(n)
    dens = ms.solve_grid(ell, ray, eta=eta)
    dens[-1] = 0.0  # the square-root edge itself
    if hard is not None:
        dens[0] = 0.0
    with np.errstate(divide="ignore"):
        wq = simpson_weights(n) / (n - 1) / gmap.dxi(ell)
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
