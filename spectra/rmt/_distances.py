"""Distances between an empirical spectrum and a law: KS on s², Wasserstein-1 on log s².

Both work in ℓ = log s² (exact where s² under- or overflows float64) against a density
frame of :func:`spectra.rmt.density_frame`; re-exported by :mod:`spectra.rmt`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import SpectraError


def _empirical_log_lambda(singular_values, log: bool, outliers: int = 0) -> np.ndarray:
    s = np.asarray(
        singular_values.detach().cpu().numpy()
        if hasattr(singular_values, "detach")
        else singular_values,
        dtype=np.float64,
    ).ravel()
    if s.size == 0:
        raise SpectraError("no singular values given")
    outliers = int(outliers)
    if outliers < 0 or outliers >= s.size:
        raise SpectraError(f"outliers must be in [0, {s.size - 1}], got {outliers}")
    if log:
        return np.sort(2.0 * s)[outliers:]
    if np.any(s < 0) or np.any(np.isnan(s)):
        raise SpectraError("singular values must be non-negative")
    with np.errstate(divide="ignore"):
        return np.sort(2.0 * np.log(s))[outliers:]


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


def ks_distance(singular_values, law, *, log: bool = False, outliers: int = 0) -> float:
    """Kolmogorov–Smirnov distance sup |F_emp − F| between the empirical law of s² and ``law``.

    ``law`` is a :func:`density_frame` (compared in log λ, exact where s² under/overflows)
    or a callable CDF of λ = s². ``log=True``: ``singular_values`` are natural logs of s.
    ``outliers``: the number of smallest values left out (the radial modes [T36]), so the
    distance is that of the bulk to a bulk law (see :func:`scale_frame`).
    """
    x = _empirical_log_lambda(singular_values, log, outliers)
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


def wasserstein_log(
    singular_values, law: pd.DataFrame, *, log: bool = False, outliers: int = 0
) -> float:
    """Wasserstein-1 distance between the empirical law of log s² and that of a frame:
    ∫ |F_emp(ℓ) − F(ℓ)| dℓ, exact for the frame's piecewise-linear CDF. In nats; inf if
    any singular value is 0 (log −inf) or inf. ``outliers``: as :func:`ks_distance`."""
    if not isinstance(law, pd.DataFrame):
        raise SpectraError("law must be a density frame")
    x = _empirical_log_lambda(singular_values, log, outliers)
    if np.any(np.isnan(x)):
        raise SpectraError("singular values must not be NaN")
    if not np.all(np.isfinite(x)):
        return float("inf")  # a zero (or infinite) singular value is infinitely far in log
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


def scale_frame(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    """The law of ``factor`` · λ for λ distributed as ``frame`` (a copy): ``log_lambda``
    and the support shift by log ``factor``, densities per unit λ divide by it, the CDF and
    the log-λ density are unchanged. Used for the bulk law of a finite net, whose bulk takes
    the trace that its outliers give up [T36]."""
    if not (factor > 0 and np.isfinite(factor)):
        raise SpectraError(f"factor must be positive and finite, got {factor!r}")
    out = frame.copy()
    shift = float(np.log(factor))
    out["log_lambda"] = frame["log_lambda"] + shift
    with np.errstate(over="ignore"):
        out["lambda"] = frame["lambda"] * factor
        out["density"] = frame["density"] / factor
    out.attrs = dict(frame.attrs)
    lo, hi = frame.attrs.get("log_support", (np.nan, np.nan))
    out.attrs["log_support"] = (lo + shift, hi + shift)
    if frame.attrs.get("point_mass") is not None:
        out.attrs["point_mass"] = frame.attrs["point_mass"] * factor
    return out
