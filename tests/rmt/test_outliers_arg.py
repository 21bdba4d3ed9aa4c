"""The ``outliers=`` argument of the distances and :func:`spectra.rmt.scale_frame`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spectra import rmt
from spectra.errors import SpectraError


def _frame():
    return rmt.density_frame(32, "orth", points=400)


def test_outliers_leave_out_the_smallest_values_vs_scipy_ks():
    # independent route: scipy's one-sample KS on the bulk in log lambda, against the
    # frame's CDF; 1e-12 is rounding (both are exact sups of the same step functions)
    fr = _frame()
    rng = np.random.default_rng(0)
    log_s = np.concatenate([[-3.0, -2.5], 0.5 * rng.choice(fr["log_lambda"], 300)])
    cdf = lambda x: np.interp(x, fr["log_lambda"], fr["cdf"], left=0.0, right=1.0)  # noqa: E731
    ref = stats.kstest(2.0 * np.sort(log_s)[2:], cdf).statistic
    assert abs(rmt.ks_distance(log_s, fr, log=True, outliers=2) - ref) < 1e-12
    assert rmt.ks_distance(log_s, fr, log=True) > rmt.ks_distance(log_s, fr, log=True, outliers=2)
    w_bulk = rmt.wasserstein_log(np.sort(log_s)[2:], fr, log=True)
    assert rmt.wasserstein_log(log_s, fr, log=True, outliers=2) == w_bulk
    with pytest.raises(SpectraError):
        rmt.ks_distance(log_s, fr, log=True, outliers=len(log_s))


def test_scale_frame_scales_the_moments_vs_analytic():
    # E[(a lambda)^k] = a^k E[lambda^k]; 1e-10 relative: the same quadrature weights
    fr = _frame()
    a = 1.07
    m0 = rmt.frame_moments(fr, orders=(1, 2))
    m1 = rmt.frame_moments(rmt.scale_frame(fr, a), orders=(1, 2))
    assert np.allclose(m1, m0 * np.array([a, a * a]), rtol=1e-10)
    with pytest.raises(SpectraError):
        rmt.scale_frame(fr, 0.0)
