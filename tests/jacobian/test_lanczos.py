"""Matrix-free Lanczos density of J^T J (spectra.jacobian) against explicit matrices."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from reference import explicit_jacobian
from scipy.integrate import trapezoid
from scipy.stats import wasserstein_distance

from spectra.jacobian import (
    ConvStack,
    JacobianOperator,
    lanczos_density,
    native_available,
    spectrum,
)
from spectra.meanfield import operating_point
from spectra.network import BlockSpec, fixed_point_input


def _stack(init, depth, c, n, dim=2, seed=2):
    sw, sb, q = operating_point(depth)
    spec = BlockSpec(depth, c, n, 3, dim, init, sw, sb)
    x0 = fixed_point_input(c, n, dim=dim, q_star=q, generator=torch.Generator().manual_seed(1))
    return ConvStack.from_spec(spec, x0, "tanh", seed=seed)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("init", ["orth", "delta-orth", "gaussian"])
def test_jvp_vjp_match_dense_jacobian(init, dim):
    # J v and J^T u by conv pushes (the adjoint kernel is W^T flipped) vs the explicit J of
    # [T5]; float64, depth 7, |J| ~ 1: rounding ~1e-15, tolerance 1e-12.
    st = _stack(init, 7, 3, 5, dim=dim)
    j = explicit_jacobian(st)
    op = JacobianOperator(st, dtype=torch.float64)
    v = torch.randn((3, *op.shape), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    flat = v.reshape(3, -1)
    torch.testing.assert_close(op.jvp(v).reshape(3, -1), flat @ j.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(op.vjp(v).reshape(3, -1), flat @ j, rtol=0, atol=1e-12)


@pytest.mark.skipif(not native_available(), reason="native kernel not built")
@pytest.mark.parametrize("threads", [1, 2])
def test_native_jvp_vjp_match_dense_jacobian(threads, monkeypatch):
    # c = 16 orth layers go through the native factored runs, a Gaussian layer in the
    # middle through the native taps: three segments, forward and adjoint. Against the
    # explicit J (float64, O(1) entries: 1e-12), threads 1 and 2 (slices of 3 probes).
    from spectra.network import iter_block_layers

    g = torch.Generator().manual_seed(3)
    layers = []
    for init, depth in (("orth", 4), ("gaussian", 1), ("orth", 3)):
        layers += list(
            iter_block_layers(BlockSpec(depth, 16, 3, 3, 2, init, 1.05, 0.2), generator=g)
        )
    x0 = fixed_point_input(16, 3, q_star=0.4, generator=torch.Generator().manual_seed(1))
    st = replace(ConvStack.from_layers(layers, x0, "tanh"), native=True)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    op = JacobianOperator(st, dtype=torch.float64)
    kinds = [fwd.first.kind for _, _, fwd, _ in op.segments]
    assert kinds == ["orth", "taps", "orth"]  # one run per kernel kind
    j = explicit_jacobian(st)
    v = torch.randn((3, *op.shape), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    flat = v.reshape(3, -1)
    torch.testing.assert_close(op.jvp(v).reshape(3, -1), flat @ j.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(op.vjp(v).reshape(3, -1), flat @ j, rtol=0, atol=1e-12)


def test_gauss_quadrature_reproduces_krylov_moments():
    # One probe v, m steps: the Ritz nodes/weights reproduce v^T (J^T J)^j v exactly for
    # j <= 2m - 1 (Gauss quadrature). Checked for j = 0..5 with m = 6 against the explicit
    # matrix; relative 1e-9 (Lanczos with full re-orthogonalisation in float64).
    st = _stack("orth", 10, 2, 4)
    j = explicit_jacobian(st)
    a = (j.T @ j).numpy()
    dens, info = lanczos_density(st, dtype=torch.float64, steps=6, probes=1, seed=11)
    v = torch.randn(
        (1, st.n_features), generator=torch.Generator().manual_seed(11), dtype=torch.float64
    )[0].numpy()
    v /= np.linalg.norm(v)
    theta, w = np.exp(dens["ritz_log_lambda"]), dens["ritz_weight"]
    for p in range(6):
        ref = v @ np.linalg.matrix_power(a, p) @ v
        assert abs(np.sum(w * theta**p) - ref) <= 1e-9 * abs(ref), p
    assert info["steps"] == 6 and abs(w.sum() - 1) < 1e-12


def test_density_close_to_full_spectrum_small():
    # N = 128, orth critical tanh, depth 30: 30 Lanczos steps x 8 probes. The W1 distance
    # of log s^2 to the full spectrum is dominated by the randomness of 8 probes in 128
    # dimensions (~0.05 measured); 0.15 leaves room for that noise while staying well
    # below the W1 between this spectrum and a point mass at its mean (0.49 measured).
    st = _stack("orth", 30, 8, 4)
    ls = spectrum(st, "stable").log_singular_values
    dens, info = lanczos_density(st, dtype=torch.float64, steps=30, probes=8, seed=0)
    w1 = wasserstein_distance(dens["ritz_log_lambda"], 2 * ls, dens["ritz_weight"])
    assert w1 < 0.15, w1
    # the smoothed density integrates to 1 in lambda
    lam, d = dens["lambda"], dens["density"]
    assert abs(trapezoid(d, lam) - 1) < 0.02
    assert abs(info["mean_sq"] - np.mean(np.exp(2 * ls))) < 0.1


@pytest.mark.slow
def test_acceptance_5_lanczos_vs_full_c64():
    # At c = 64, n = 8 (N = 4096), depth 1000: W1(log s^2) <= 0.05 against the
    # full spectrum, at <= 1/5 of its time. Orthogonal 3x3 kernels (the paper's nets; the
    # full method ~140 s here). With delta-orth kernels the full method is a 1x1 GEMM per
    # layer (~30 s) and Lanczos, bound by per-op overhead on its 4-probe batches, is only
    # ~4x cheaper (README).
    st = _stack("orth", 1000, 64, 8)
    t = time.perf_counter()
    full = spectrum(st, "forward", dtype=torch.float32)
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    res = spectrum(st, "lanczos", dtype=torch.float32, lanczos_options={"steps": 40, "probes": 4})
    t_l = time.perf_counter() - t
    ls = full.log_singular_values
    d = res.density
    w1 = wasserstein_distance(d["ritz_log_lambda"], 2 * ls, d["ritz_weight"])
    assert w1 <= 0.05, w1
    assert t_l <= t_full / 5, (t_l, t_full)
