"""The radial-mode outlier of J [T36] against the explicit dense Jacobian of small nets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference import explicit_jacobian

from spectra.jacobian import ConvStack
from spectra.meanfield import (
    chi_q,
    operating_point,
    radial_log_singular_value,
    radial_mode_count,
)
from spectra.network import BlockSpec, fixed_point_input


def _log_sv(init, depth, c, n, seed, sigma_b=None):
    """Sorted log s of the dense J (tests/reference.py, not the engine) and the point."""
    sw, sb, q = operating_point(depth, sigma_b=sigma_b) if sigma_b else operating_point(depth)
    x0 = fixed_point_input(c, n, q_star=q, generator=torch.Generator().manual_seed(seed + 7))
    st = ConvStack.from_spec(BlockSpec(depth, c, n, 3, 2, init, sw, sb), x0, "tanh", seed=seed)
    s = torch.linalg.svdvals(explicit_jacobian(st)).numpy()
    return np.sort(np.log(s)), (sw, sb, q)


def test_radial_linear_is_chi_q_power_at_fixed_point_vs_analytic():
    # closed form [T11]: from q0 = q* the trajectory stays at q*, so without the leak the
    # prediction is L log chi_q*; 1e-9 covers the 481-node quadrature's rounding over L terms
    for depth in (16, 256):
        sw, sb, q = operating_point(depth)
        got = radial_log_singular_value(depth, sw, sb, q0=q, leak=False)
        assert abs(got - depth * math.log(chi_q(sw, sb, q=q))) < 1e-9


@pytest.mark.parametrize(
    "seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)]
)
def test_radial_outlier_vs_dense_jacobian_orth(seed):
    # orth, N = 256, L = 64, q* = 1/64: one value ~1.5 nats below the bulk, at the
    # prediction within 0.1 nats (measured spread over seeds at N = 128: 0.06; the finite-N
    # fluctuation of the radial mode is O(N^-1/2) per unit of ln s)
    ls, (sw, sb, q) = _log_sv("orth", 64, 16, 4, seed)
    pred = radial_log_singular_value(64, sw, sb, q0=q)
    assert ls[1] - ls[0] > 1.0  # an outlier, well below the bulk
    assert abs(ls[0] - pred) < 0.1


def test_radial_leak_term_explains_the_bias_case_vs_dense_jacobian():
    # one factor changed: sigma_b = 0.05 critical (q* = 0.154), L = 16. The linear
    # prediction L log chi_q* misses by ~1 nat (seeds 0-2 at N = 128: 0.87-1.27); the
    # per-layer leak cosine brings it within 0.4 (measured 0.07-0.31)
    for seed in range(3):
        ls, (sw, sb, q) = _log_sv("orth", 16, 8, 4, seed, sigma_b=0.05)
        lin = radial_log_singular_value(16, sw, sb, q0=q, leak=False)
        full = radial_log_singular_value(16, sw, sb, q0=q)
        assert abs(ls[0] - full) < 0.4
        assert abs(ls[0] - lin) > 0.7


def test_delta_orth_has_one_radial_mode_per_pixel_vs_dense_jacobian():
    # J is block-diagonal over the n^2 = 16 pixels: 16 values separated from the bulk by a
    # gap (> 0.5 nats measured ~1.0-1.2), their median within 0.25 nats of the prediction
    # (c = 8 per block: the per-pixel fluctuation is large, measured -0.2..+0.6 nats)
    ls, (sw, sb, q) = _log_sv("delta-orth", 32, 8, 4, 0)
    k = radial_mode_count("delta-orth", 4, 2)
    assert k == 16 and radial_mode_count("orth", 4, 2) == 1
    pred = radial_log_singular_value(32, sw, sb, q0=q)
    assert ls[k] - ls[k - 1] > 0.5
    assert abs(np.median(ls[:k]) - pred) < 0.25


def test_radial_nan_without_a_radial_mode():
    assert math.isnan(radial_log_singular_value(8, 1.0, 0.0, q0=0.0))
