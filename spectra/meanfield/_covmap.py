"""The convolutional covariance map [T17] on 1D, 2D and 3D images and batches of images.

One step Sigma -> A_v * C(Sigma), where C acts entrywise on pairs of (image, pixel)
indices (the theory page [T17]),

    C(Sigma)_{ab} = sigma_w^2 E phi(u_a) phi(u_b) + sigma_b^2,  (u_a, u_b) ~ N(0, Sigma_{ab 2x2}),

and A_v averages over the taps beta of the variance vector v, shifting both pixels alike
(the weights are shared by every image of a batch, so Sigma^{l+1}_{(i,s),(j,s')} = sum_beta
v_beta C_{(i,s+beta),(j,s'+beta)}, the NNGP kernel of a circular CNN).

The pair expectations are vectorised over all pairs ([T35]):

- ``erf``: the arcsine kernel (2/pi) arcsin(2 S_ab / sqrt((1 + 2 S_aa)(1 + 2 S_bb))).
- ``relu``: the arc-cosine kernel sqrt(S_aa S_bb) (sin t + (pi - t) cos t) / (2 pi),
  cos t = rho_ab.
- ``linear``: S_ab itself.
- anything else: the [T13] trapezoid rule in 2D, with the nodes of product weight below
  1e-18 of the largest dropped (mass < 1e-18), evaluated once per distinct triple
  (S_aa, S_bb, S_ab): a translation-invariant Sigma has only ~n^d of them. Its error is
  that of [T13] in each variable, <= 3e-14 for tanh with S_aa <= 10.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ..activations import get_activation
from ..errors import SpectraError
from ..quadrature import gauss_nodes

_SYM_RTOL = 1e-10  # |Sigma - Sigma^T| accepted (then symmetrised), relative to max|Sigma|
_PAIR_CHUNK = 16  # quadrature pairs per block: 16 x ~1e5 nodes of float64 (~13 MB)


def check_variance_vector(v) -> np.ndarray:
    """A variance vector of 1 to 3 axes (any sizes): finite, >= 0, sum 1 (tap origin
    (k - 1) // 2 per axis, as the kernels' [T2])."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim not in (1, 2, 3) or v.size == 0:
        raise SpectraError(f"variance vector must have 1 to 3 axes, got shape {v.shape}")
    if not np.all(np.isfinite(v)) or np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
        raise SpectraError("variance vector must be finite, non-negative and sum to 1")
    return v


def _as_batch(sigma, d: int) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """Sigma as (B, *n, B, *n); the pixel shape n; whether it came without the batch axes."""
    s = np.asarray(sigma, dtype=np.float64)
    single = s.ndim == 2 * d
    if single:
        s = s.reshape((1,) + s.shape[:d] + (1,) + s.shape[d:])
    if s.ndim != 2 * d + 2 or s.shape[: d + 1] != s.shape[d + 1 :]:
        want = "(n, n) or (B, n, B, n)"
        if d > 1:
            want = f"(*n, *n) or (B, *n, B, *n) with {d} pixel axes n"
        raise SpectraError(
            f"Sigma must have shape {want} for a {d}D variance vector, got {np.shape(sigma)}"
        )
    return s, s.shape[1 : d + 1], single


def _symmetrised(m: np.ndarray) -> np.ndarray:
    """(m + m^T) / 2 when m is symmetric to _SYM_RTOL; a one-line refusal otherwise."""
    scale = float(np.abs(m).max()) if m.size else 0.0
    asym = float(np.abs(m - m.T).max()) if m.size else 0.0
    if not np.isfinite(scale):
        raise SpectraError("Sigma must be finite")
    if asym > _SYM_RTOL * scale:
        raise SpectraError(
            f"Sigma must be symmetric: max |Sigma - Sigma^T| = {asym:.3g} exceeds "
            f"{_SYM_RTOL:g} x max |Sigma| = {_SYM_RTOL * scale:.3g}"
        )
    return 0.5 * (m + m.T)


@cache
def _nodes_2d() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat [T13] tensor nodes z1, z2 and weights w with w >= 1e-18 max w (~1e5 nodes)."""
    z, w = gauss_nodes()
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    ww = np.outer(w, w)
    keep = ww >= 1e-18 * ww.max()
    return z1[keep], z2[keep], ww[keep]


def _quadrature_pairs(act, d1, d2, s12) -> np.ndarray:
    """E phi(u1) phi(u2) for 1D arrays of variances d1, d2 and covariances s12 ([T13])."""
    z1, z2, w = _nodes_2d()
    out = np.empty(d1.size)
    rho = np.clip(s12 / np.sqrt(d1 * d2), -1.0, 1.0)
    for start in range(0, d1.size, _PAIR_CHUNK):
        sl = slice(start, start + _PAIR_CHUNK)
        r = rho[sl, None]
        u1 = np.sqrt(d1[sl, None]) * z1
        u2 = np.sqrt(d2[sl, None]) * (r * z1 + np.sqrt(1.0 - r * r) * z2)
        out[sl] = (act.phi(u1) * act.phi(u2)) @ w
    return out


def pair_expectation(activation, d1, d2, s12) -> np.ndarray:
    """E phi(u1) phi(u2) for (u1, u2) ~ N(0, [[d1, s12], [s12, d2]]), arrays of one shape.

    Closed forms for ``erf`` (arcsine), ``relu`` (arc-cosine) and ``linear``; otherwise
    the [T13] 2D trapezoid rule once per distinct (d1, d2, s12) (see the module note).
    Needs d1, d2 > 0; the correlation is clipped to [-1, 1].
    """
    act = get_activation(activation)
    d1, d2, s12 = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (d1, d2, s12)))
    if act.builtin and act.name == "erf":
        arg = 2.0 * s12 / np.sqrt((1.0 + 2.0 * d1) * (1.0 + 2.0 * d2))
        return (2.0 / math.pi) * np.arcsin(np.clip(arg, -1.0, 1.0))
    if act.builtin and act.name == "linear":
        return s12.copy()
    if act.builtin and act.name == "relu":
        norm = np.sqrt(d1 * d2)
        cos = np.clip(s12 / norm, -1.0, 1.0)
        t = np.arccos(cos)
        return norm * (np.sqrt(1.0 - cos * cos) + (math.pi - t) * cos) / (2.0 * math.pi)
    lo, hi = np.minimum(d1, d2), np.maximum(d1, d2)  # E is symmetric in the swap
    rows = np.stack([lo.ravel(), hi.ravel(), s12.ravel()], axis=1)
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    vals = _quadrature_pairs(act, uniq[:, 0], uniq[:, 1], uniq[:, 2])
    return vals[inverse.reshape(-1)].reshape(d1.shape)


def _tap_average(c: np.ndarray, v: np.ndarray, d: int) -> np.ndarray:
    """A_v * C on (B, *n, B, *n): sum_beta v_beta C[(i, s + beta), (j, s' + beta)]."""
    axes = tuple(range(1, d + 1)) + tuple(range(d + 2, 2 * d + 2))
    origin = np.array([(k - 1) // 2 for k in v.shape])
    out = np.zeros_like(c)
    for idx in zip(*np.nonzero(v), strict=True):
        beta = np.asarray(idx) - origin
        out += v[idx] * np.roll(c, shift=tuple(-beta) * 2, axis=axes)
    return out


def covariance_map(sigma, v, sigma_w: float, sigma_b: float, activation="tanh") -> np.ndarray:
    """One step of [T17]: Sigma -> A_v * C(Sigma), same shape as ``sigma``.

    ``v``: variance vector with d = 1, 2 or 3 axes (any sizes, origin (k - 1) // 2).
    ``sigma``: the covariance of one image, shape ``(*n, *n)`` (1D: ``(n, n)``; 2D:
    ``(n1, n2, n1, n2)``), or of a batch of B images, ``(B, *n, B, *n)`` (the NNGP kernel;
    unequal norms allowed). It must be symmetric to 1e-10 relative (it is then
    symmetrised) with a positive diagonal. Pair expectations: closed forms for erf, ReLU
    and linear, else quadrature with error <= 3e-14 for tanh ([T13], [T35]).
    """
    from ._maps import _check_ws

    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = get_activation(activation)
    v = check_variance_vector(v)
    d = v.ndim
    s, pixels, single = _as_batch(sigma, d)
    shape = s.shape
    flat = _symmetrised(s.reshape(int(np.prod(shape[: d + 1])), -1))
    diag = np.diag(flat).copy()
    if np.any(diag <= 0):
        raise SpectraError("Sigma must have a positive diagonal")
    e = pair_expectation(act, diag[:, None], diag[None, :], flat)
    e = 0.5 * (e + e.T)  # exact symmetry (the closed forms are symmetric up to rounding)
    c = (sigma_w**2 * e + sigma_b**2).reshape(shape)
    out = _tap_average(c, v, d)
    return out.reshape(np.shape(sigma)) if single else out
