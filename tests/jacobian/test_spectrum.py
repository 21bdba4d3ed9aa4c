"""Jacobian spectra: forward [T22], dense [T5], stable [T24], jacfwd, against each other,
closed forms and an arbitrary-precision reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference import mpmath_log_singular_values
from torch import nn

from spectra.errors import SpectraError
from spectra.jacobian import (
    ConvStack,
    generic_jacobian,
    jacobian_dense,
    singular_values,
    spectrum,
)
from spectra.kernels import INIT_NAMES
from spectra.network import (
    BlockSpec,
    CircularConvBlock,
    VanillaCNN,
    fixed_point_input,
    iter_block_layers,
)


def _stack(init, *, depth, c, n, dim=2, sw=1.0, sb=0.0, act="tanh", seed=0, q=0.5, k=3):
    spec = BlockSpec(depth, c, n, k, dim, init, sw, sb)
    layers = list(iter_block_layers(spec, generator=torch.Generator().manual_seed(seed)))
    x0 = fixed_point_input(
        c, n, dim=dim, q_star=q, activation=act, generator=torch.Generator().manual_seed(99)
    )
    return ConvStack.from_layers(layers, x0, act), layers, x0


def _block(layers, act="tanh"):
    return CircularConvBlock(
        torch.stack([w for w, _ in layers]), torch.stack([b for _, b in layers]), act
    )


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("init", INIT_NAMES)
def test_methods_agree_with_jacfwd_float64(init, dim):
    # Four independent routes (batched forward mode, explicit conv matrices,
    # discrete QR + Jacobi SVD, torch.func.jacfwd of the module) on a small tanh net with
    # random biases (sigma_b = 0.3) and a random input. Singular values are O(1); the
    # routes differ only by float64 rounding over 5 layers of N = 48 (or 12) -> 1e-10 is
    # loose by ~4 decades yet catches any indexing/transposition/padding error (O(1)).
    n = 4
    stack, layers, x0 = _stack(init, depth=5, c=3, n=n, dim=dim, sw=1.3, sb=0.3)
    blk = _block(layers)
    ref = torch.linalg.svdvals(generic_jacobian(lambda z: blk(z[None])[0], x0)).numpy()
    for method in ("forward", "dense", "stable"):
        got = np.exp(spectrum(stack, method, dtype=torch.float64).log_singular_values)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, err_msg=method)


def test_dense_matches_jacfwd_matrix_itself():
    # Not just the singular values: the dense J equals jacfwd's J entry by entry [T5].
    stack, layers, x0 = _stack("gaussian", depth=3, c=2, n=3, sw=1.2, sb=0.2)
    blk = _block(layers)
    j_ref = generic_jacobian(lambda z: blk(z[None])[0], x0)
    torch.testing.assert_close(jacobian_dense(stack), j_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("init", ["orth", "delta-orth"])
def test_linear_orthogonal_is_exact_isometry(init):
    # Reduced size for the default suite (depth 1000 / 300, c = 4, n = 4; the full-size
    # depth 4000 at c = 16, n = 8 is the slow test below): linear, sigma_w = 1,
    # sigma_b = 0: J is a product of exact isometries [T8], [T9], so every singular value
    # is 1. Rounding grows like sqrt(L) eps per layer: float32 ~ 30 * 6e-8 = 2e-6 << 1e-3;
    # float64 ~ 30 * 1e-16 << 1e-10.
    depth = 1000 if init == "delta-orth" else 300  # orth kernel draws dominate the time
    stack, _, _ = _stack(init, depth=depth, c=4, n=4, act="linear", sw=1.0, sb=0.0)
    for dtype, tol in ((torch.float32, 1e-3), (torch.float64, 1e-10)):
        s = np.exp(spectrum(stack, "forward", dtype=dtype).log_singular_values)
        assert s.shape == (64,)
        assert np.max(np.abs(s - 1.0)) < tol, (init, dtype, np.max(np.abs(s - 1.0)))


@pytest.mark.slow
@pytest.mark.parametrize("init", ["orth", "delta-orth"])
def test_linear_orthogonal_isometry_full_size(init):
    # Full size: c = 16, n = 8 (N = 1024), depth 4000.
    spec = BlockSpec(4000, 16, 8, 3, 2, init, 1.0, 0.0)
    x0 = torch.zeros(16, 8, 8, dtype=torch.float64)
    stack = ConvStack.from_spec(spec, x0, "linear", seed=1)
    for dtype, tol in ((torch.float32, 1e-3), (torch.float64, 1e-10)):
        s = np.exp(spectrum(stack, "forward", dtype=dtype).log_singular_values)
        assert np.max(np.abs(s - 1.0)) < tol, (init, dtype, np.max(np.abs(s - 1.0)))


def test_stable_matches_mpmath_where_float64_fails():
    # Critical Gaussian tanh (q* = 1/L), depth 200, N = 8 (1D, c = 2, n = 4).
    # The spread of log s is ~100 nats, beyond float64's ~37: the plain float64 product
    # loses the bottom singular values. mpmath at 120 digits resolves 1e-120 relative,
    # far below the 1e-6 relative tolerance required of every singular value.
    from spectra.meanfield import operating_point

    depth = 200
    sw, sb, q = operating_point(depth)
    stack, _, _ = _stack("gaussian", depth=depth, c=2, n=4, dim=1, sw=sw, sb=sb, q=q, seed=3)
    ref = mpmath_log_singular_values(stack, dps=120)
    assert ref[0] - ref[-1] > 45.0  # beyond float64 resolution (~37 nats)
    stable = spectrum(stack, "stable")
    # relative error of s = |exp(dlog) - 1|
    rel = np.abs(np.expm1(stable.log_singular_values - ref))
    assert np.max(rel) < 1e-6, np.max(rel)
    fwd = spectrum(stack, "forward", dtype=torch.float64).log_singular_values
    with np.errstate(invalid="ignore"):
        rel_fwd = np.abs(np.expm1(fwd - ref))
    assert not (np.nanmax(rel_fwd) < 1e-6)  # plain float64 forward mode fails the test
    auto = spectrum(stack, "auto", dtype=torch.float64)
    assert auto.method == "stable" and "stable" in auto.reason
    np.testing.assert_array_equal(auto.log_singular_values, stable.log_singular_values)


def test_auto_keeps_forward_when_well_conditioned():
    stack, _, _ = _stack("delta-orth", depth=20, c=4, n=4, act="linear")
    res = spectrum(stack, "auto", dtype=torch.float32)
    assert res.method == "forward" and "resolution" in res.reason


def test_stable_logs_beyond_float64_range():
    # Linear Gaussian (sigma_w = 0.05): log s ~ L log 0.05 ~ -900 nats at L = 300, far
    # below float64's -745; the log-domain method still reports finite, ordered logs,
    # whose mean equals the exact log|det J| / N = sum of per-layer log|det M^l| / N
    # (computed independently by the FFT route, [T7]) to 1e-9 relative.
    from spectra.operators import conv_singular_values

    stack, layers, _ = _stack("gaussian", depth=300, c=2, n=3, act="linear", sw=0.05)
    logs = spectrum(stack, "stable").log_singular_values
    assert np.all(np.isfinite(logs)) and logs[0] < -700 and np.all(np.diff(logs) <= 0)
    logdet = sum(float(torch.log(conv_singular_values(w, 3)).sum()) for w, _ in layers)
    assert math.isclose(logs.sum(), logdet, rel_tol=1e-9)


def test_singular_values_api_fast_paths_and_fallback():
    g = torch.Generator().manual_seed(4)
    # VanillaCNN: its block at a block input
    m = VanillaCNN(5, 3, image_size=12, init="orth", generator=g, dtype=torch.float64)
    x = torch.randn(3, 3, 3, dtype=torch.float64, generator=g)
    ref = torch.linalg.svdvals(generic_jacobian(lambda z: m.block(z[None])[0], x))
    torch.testing.assert_close(singular_values(m, x), ref, rtol=0, atol=1e-12)
    # nn.Sequential of circular convs + Tanh
    seq = nn.Sequential(
        nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular", dtype=torch.float64),
        nn.Tanh(),
        nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular", dtype=torch.float64),
        nn.Tanh(),
    )
    x1 = x[None]
    ref = torch.linalg.svdvals(generic_jacobian(lambda z: seq(z), x1))
    for method in ("auto", "stable", "dense", "forward"):
        torch.testing.assert_close(singular_values(seq, x1, method=method), ref, rtol=0, atol=1e-12)
    # anything else: the generic routes (an MLP), checked against autograd's jacobian
    mlp = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    v = torch.randn(6, dtype=torch.float64, generator=g)
    jac = torch.autograd.functional.jacobian(mlp, v)
    torch.testing.assert_close(
        singular_values(mlp, v), torch.linalg.svdvals(jac), rtol=0, atol=1e-12
    )
    # stable on a generic Sequential (narrowing 6 -> 5 -> 4): the same values, float64
    torch.testing.assert_close(
        singular_values(mlp, v, method="stable"), torch.linalg.svdvals(jac), rtol=0, atol=1e-12
    )
    with pytest.raises(SpectraError):
        singular_values(mlp, v, method="nope")


def test_forward_memory_does_not_hold_layers():
    # The streamed stack regenerates layers on each traversal; traversing twice gives the
    # same weights (determinism of the stream), so two runs agree bit for bit.
    spec = BlockSpec(30, 4, 4, 3, 2, "orth", 1.0, 0.0)
    x0 = torch.zeros(4, 4, 4, dtype=torch.float64)
    st = ConvStack.from_spec(spec, x0, "tanh", seed=5)
    a = spectrum(st, "forward", dtype=torch.float32).log_singular_values
    b = spectrum(st, "forward", dtype=torch.float32).log_singular_values
    np.testing.assert_array_equal(a, b)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_forward_matches_cpu():
    # GPU path: forward and stable on CUDA agree with CPU float64 to 1e-10 (same formulas,
    # different summation order).
    stack, _, _ = _stack("orth", depth=50, c=4, n=4, sw=1.1, sb=0.1)
    cpu = np.exp(spectrum(stack, "forward", dtype=torch.float64).log_singular_values)
    for method in ("forward", "stable"):
        gpu = spectrum(stack, method, dtype=torch.float64, device="cuda").log_singular_values
        np.testing.assert_allclose(np.exp(gpu), cpu, rtol=0, atol=1e-10)


def test_huge_spread_qr_sweeps_match_jacobi(monkeypatch):
    # Spreads beyond one dgejsv scaling (> 600 nats) are handled by log-domain QR sweeps
    # [T24]. Force that path on a 165-nat case by lowering the threshold to 5 nats and
    # compare with the direct Jacobi SVD: two routes, agreement to 1e-9 relative in s.
    from spectra.meanfield import operating_point

    sw, sb, q = operating_point(200)
    stack, _, _ = _stack("gaussian", depth=200, c=2, n=4, dim=1, sw=sw, sb=sb, q=q, seed=3)
    direct = spectrum(stack, "stable").log_singular_values
    from spectra.jacobian.testing import stable as jacobian_stable

    monkeypatch.setattr(jacobian_stable, "_JSV_SPREAD", 5.0)
    swept = spectrum(stack, "stable").log_singular_values
    assert direct[0] - direct[-1] > 100
    np.testing.assert_allclose(swept, direct, rtol=0, atol=1e-9)


def test_stable_small_n_bytes_do_not_depend_on_the_thread_count():
    # N = 144 < 256: one tangent chunk, one intra-op thread throughout (QR included), so
    # the same stack gives the same float64 bits with 1 or 2 torch threads.
    from spectra.jacobian import stable_spectrum

    stack, _, _ = _stack("gaussian", depth=12, c=16, n=3, sw=1.3, sb=0.2)
    old = torch.get_num_threads()
    try:
        outs = []
        for th in (1, 2):
            torch.set_num_threads(th)
            outs.append(stable_spectrum(stack, group=2)[0])
            assert torch.get_num_threads() == th  # restored
    finally:
        torch.set_num_threads(old)
    assert np.array_equal(outs[0], outs[1])
