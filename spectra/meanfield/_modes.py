"""Fourier modes of a spatial variance vector and their depth scales (the theory page [T18]-[T19]).

The linearised covariance map of a CNN acts on each lag of the perturbation
epsilon = Sigma - Sigma* as a circular convolution with the variance vector v; its
eigenvalues are the DFT of v zero-padded and wrapped onto the n^d grid [T18]:

    lambda_m = sum_beta v_beta omega^<m, beta>,   omega = exp(2 pi i / n),

and the mode m decays (off the diagonal) like (chi_c* lambda_m)^l, with depth scale
xi_m = -1 / log(chi_c* |lambda_m|) [T19]. Pure numpy; no randomness.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpectraError


def _check_v(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim not in (1, 2) or v.size == 0:
        raise SpectraError(f"variance vector must be 1D (k,) or 2D (k, k), got shape {v.shape}")
    if any(s % 2 == 0 for s in v.shape) or (v.ndim == 2 and v.shape[0] != v.shape[1]):
        raise SpectraError(f"variance vector needs odd, equal side lengths, got {v.shape}")
    if not np.all(np.isfinite(v)) or np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
        raise SpectraError("variance vector must be finite, non-negative and sum to 1")
    return v


def fourier_eigenvalues(v, n: int) -> np.ndarray:
    """[T18] Eigenvalues lambda_m of the convolution by v on Z_n^d, shape ``(n,)*d``.

    ``v``: variance vector, shape ``(k,)`` (1D) or ``(k, k)`` (2D), k odd, tap
    ``v[beta + r]`` at offset beta (r = (k-1)/2). The taps are wrapped onto the n^d grid
    (aliases summed when n < k) and Fourier transformed; entry ``[m]`` (``[m1, m2]``) is
    lambda_m, with lambda_0 = 1 and |lambda_m| <= 1. Returns a real array when v is
    symmetric (v(beta) = v(-beta), so lambda is real, possibly <= 0), else complex.
    """
    v = _check_v(v)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise SpectraError(f"size n must be a positive integer, got {n!r}")
    n = int(n)
    d = v.ndim
    r = v.shape[0] // 2
    grid = np.zeros((n,) * d)
    for idx in np.ndindex(v.shape):
        grid[tuple((i - r) % n for i in idx)] += v[idx]
    # numpy's fft uses exp(-2 pi i m s / n); lambda_m uses omega^{+m beta}: conjugate.
    lam = np.conj(np.fft.fftn(grid))
    if np.array_equal(v, np.flip(v)):
        return lam.real.copy()
    return lam


def mode_depth_scales(v, n: int, chi_c: float) -> np.ndarray:
    """[T19] xi_m = -1 / log(chi_c |lambda_m|) per mode, shape ``(n,)*d``.

    xi_m = 0 where lambda_m = 0; inf where chi_c |lambda_m| = 1 (critical, only m = 0
    unless v is the delta vector). ``chi_c``: the slope chi_c* of the c-map [T15].
    """
    from ._maps import depth_scale

    if not np.isfinite(chi_c) or chi_c < 0:
        raise SpectraError(f"chi_c must be finite and >= 0, got {chi_c!r}")
    return np.asarray(depth_scale(chi_c * np.abs(fourier_eigenvalues(v, n))))


def sorted_singular_values(v, n: int) -> np.ndarray:
    """The n^d singular values |lambda_m| of the map epsilon -> A_v * epsilon on one lag,
    sorted descending (the paper's Fig 4(b)); shape ``(n**d,)``."""
    return np.sort(np.abs(fourier_eigenvalues(v, n)).reshape(-1))[::-1].copy()


def modes_frame(vectors: dict, n: int, chi_c: float = 1.0):
    """Tidy DataFrame of the modes of several variance vectors.

    ``vectors``: name -> v. Columns: ``name, dim, size, mode`` (flat index),
    ``m1`` (and ``m2`` in 2D, else -1), ``lambda`` (real part), ``lambda_imag``,
    ``abs_lambda``, ``rank`` (position in the descending order of |lambda|, 0-based),
    ``chi_c``, ``xi`` ([T19]).
    """
    import pandas as pd

    rows = []
    for name, v in vectors.items():
        lam = np.asarray(fourier_eigenvalues(v, n), dtype=complex)
        xi = mode_depth_scales(v, n, chi_c)
        flat = np.abs(lam).reshape(-1)
        order = np.argsort(-flat, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        for i, m in enumerate(np.ndindex(lam.shape)):
            rows.append(
                {
                    "name": name,
                    "dim": lam.ndim,
                    "size": n,
                    "mode": i,
                    "m1": m[0],
                    "m2": m[1] if lam.ndim == 2 else -1,
                    "lambda": lam[m].real,
                    "lambda_imag": lam[m].imag,
                    "abs_lambda": abs(lam[m]),
                    "rank": int(rank[i]),
                    "chi_c": chi_c,
                    "xi": float(xi[m]),
                }
            )
    return pd.DataFrame(rows)
