"""Outlier and bulk columns of the Jacobian summary ([T36]) on the engine's spectrum."""

from __future__ import annotations

import math

import numpy as np
import torch

from spectra.jacobian import ConvStack, spectrum
from spectra.meanfield import operating_point
from spectra.network import BlockSpec, fixed_point_input
from spectra.studies import spectral_stats, summary_row, theory_frame


def _row(init, depth=64, c=8, n=4):
    sw, sb, q = operating_point(depth)
    x0 = fixed_point_input(c, n, q_star=q, generator=torch.Generator().manual_seed(1))
    st = ConvStack.from_spec(BlockSpec(depth, c, n, 3, 2, init, sw, sb), x0, "tanh", seed=0)
    res = spectrum(st, "forward", dtype=torch.float64)
    cfg = dict(
        init=init, activation="tanh", depth=depth, channels=c, size=n, kernel=3, dim=2,
        sigma_w=sw, sigma_b=sb, q_star=q, dtype="float64",
    )  # fmt: skip
    return res, summary_row(res, cfg, seed=0, theory=True, frame=theory_frame(cfg))


def test_summary_outlier_columns_vs_engine():
    # orth N = 128: one radial mode, the smallest value within 0.15 nats of the prediction
    # (finite-N spread at N = 128 measured <= 0.06); the bulk factor is the trace rule
    # (N - s_r^2) / (N - 1) exactly (1e-12: float64 arithmetic)
    res, row = _row("orth")
    assert row["n_outliers"] == 1
    assert abs(row["log_s_min"] - row["theory_log_s_outlier"]) < 0.15
    s2 = math.exp(2 * row["theory_log_s_outlier"])
    assert abs(row["bulk_factor"] - (128 - s2) / 127) < 1e-12
    assert row["ks"] <= row["ks_all"] + 1e-12 or row["ks"] < 0.1
    ls = np.sort(res.log_singular_values)
    assert abs(row["log10_condition_bulk"] - (ls[-1] - ls[1]) / math.log(10)) < 1e-12


def test_delta_orth_counts_one_outlier_per_pixel_vs_engine():
    # J block-diagonal over n^2 = 16 pixels: 16 outliers, the bulk law lifted by the
    # block's trace rule (c - s_r^2) / (c - 1), c = 8 (exact, 1e-12: float64)
    _, row = _row("delta-orth")
    assert row["n_outliers"] == 16
    s2 = math.exp(2 * row["theory_log_s_outlier"])
    assert abs(row["bulk_factor"] - (8 - s2) / 7) < 1e-12
    assert row["log_s_bulk_min"] > row["theory_log_s_outlier"] + 0.5


def test_spectral_stats_bulk_condition_vs_analytic():
    # log10(s_max / s_(k+1)) from the sorted logs, exact up to 1e-15
    st = spectral_stats(np.log([2.0, 1.0, 0.5, 1e-3]), outliers=1)
    assert abs(st["log10_condition_bulk"] - math.log10(4.0)) < 1e-15
    assert abs(st["log10_condition"] - math.log10(2000.0)) < 1e-12
