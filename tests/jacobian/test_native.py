"""Native tangent pushes (spectra/native.py, spectra/_native.c) against independent routes.

The native kernel's forward and adjoint pushes (orth in factored form, any kernel by its
taps) against :func:`spectra.network.circular_conv` of the dense weight (an index-gather
pad); the engine, ``stable`` and Lanczos with native layers against the explicit matrices
of ``jacobian_dense``; runs of layers against the layers one by one and thread slices
against one call (bit for bit); and the checks guarding the raw pointers.

Tolerances: float64 1e-12 (a few c-term sums of O(1) terms: rounding ~1e-15, and the
dense kernel itself is built with float64 GEMMs); float32 2e-6 relative to the largest
entry for c <= 64 (sequential 16-64-term float32 sums: ~5 * 64 * 6e-8 = 2e-5 worst case,
1e-6 typical; measured 7e-7 for c = 16), 5e-6 at c = 128 (9 taps x 128 terms; measured
3.7e-6 absolute on O(1) entries).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import torch
from reference import explicit_jacobian

import spectra.kernels as fac
from spectra.jacobian import ConvStack, jacobian_forward
from spectra.jacobian.testing import native as nat
from spectra.kernels import FactoredLayer, orth_kernel_factored
from spectra.network import BlockSpec, circular_conv, fixed_point_input, iter_block_layers

native = pytest.mark.skipif(not nat.native_available(), reason="native kernel not built")


def _native_case(c, n, dtype, seed=0, k=3):
    g = torch.Generator().manual_seed(seed)
    w, f = orth_kernel_factored(c, k, sigma_w=1.2, generator=g)
    x = torch.randn(7, c, n, n, dtype=torch.float64, generator=g)
    d = torch.rand(1, c, n, n, dtype=torch.float64, generator=g)
    ref = circular_conv(x, w) * d
    cl = torch.channels_last
    src = x.to(dtype).contiguous(memory_format=cl)
    dp = d.to(dtype).contiguous(memory_format=cl)
    return nat.NativePush(f, dtype, n), src, dp, ref


@native
@pytest.mark.parametrize("c", nat.NATIVE_CHANNELS)
@pytest.mark.parametrize("n", [1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_push_is_the_circular_conv_times_dphi(c, n, dtype):
    push, src, d, ref = _native_case(c, n, dtype)
    dst = torch.full_like(src, float("nan"))
    push(src, dst, d, 0, src.shape[0], push.scratch())
    tol = 1e-12 if dtype == torch.float64 else 2e-6 * float(ref.abs().max())
    assert torch.allclose(dst.double(), ref, rtol=0, atol=tol)


@native
def test_native_push_kernel_size_five():
    push, src, d, ref = _native_case(16, 6, torch.float64, k=5)
    dst = torch.empty_like(src)
    push(src, dst, d, 0, 7, push.scratch())
    assert torch.allclose(dst, ref, rtol=0, atol=1e-12)


@native
def test_native_push_slices_in_threads_give_the_same_bits():
    push, src, d, _ = _native_case(16, 8, torch.float32, seed=3)
    whole, parts = torch.empty_like(src), torch.full_like(src, float("nan"))
    push(src, whole, d, 0, 7, push.scratch())
    with ThreadPoolExecutor(3) as pool:
        futs = [
            pool.submit(push, src, parts, d, lo, hi, push.scratch())
            for lo, hi in [(0, 2), (2, 3), (3, 7)]
        ]
        for f in futs:
            f.result()
    assert torch.equal(whole, parts)


def _stack(init, c, n, depth, act="tanh", sw=1.05, sb=0.3, seed=0):
    return _stack_k(init, c, n, depth, 3, act, sw, sb, seed)


def _stack_k(init, c, n, depth, k, act="tanh", sw=1.05, sb=0.3, seed=0):
    spec = BlockSpec(depth, c, n, k, 2, init, sw, sb)
    x0 = fixed_point_input(c, n, q_star=0.5, generator=torch.Generator().manual_seed(seed + 1))
    layers = list(iter_block_layers(spec, generator=torch.Generator().manual_seed(seed)))
    # native=True: the native kernel wherever it applies, even on a CPU where the conv
    # route is the faster one (``native_preferred()`` False: no AVX-512)
    return replace(ConvStack.from_layers(layers, x0, act), native=True)


@native
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("workers", [1, 2])
def test_engine_native_jacobian_matches_the_explicit_product(monkeypatch, workers):
    """On the native route: forward float64 = dense to 1e-10; and the native
    route is really taken (every layer) and agrees with the engine's conv route."""
    stack = _stack("orth", 16, 4, 6)
    calls = []
    real = nat.NativeRun.__call__
    monkeypatch.setattr(
        nat.NativeRun, "__call__", lambda self, *a: (calls.append(self.layers), real(self, *a))[1]
    )
    jt = jacobian_forward(stack, dtype=torch.float64, workers=workers)
    assert calls == [6] * workers  # one run of the 6 layers per batch slice
    assert torch.allclose(jt.T, explicit_jacobian(stack), rtol=0, atol=1e-10)
    monkeypatch.setattr(nat, "native_available", lambda: False)
    assert torch.allclose(
        jacobian_forward(stack, dtype=torch.float64, workers=workers), jt, rtol=0, atol=1e-12
    )


@native
@pytest.mark.usefixtures("one_thread")
def test_engine_native_float32_and_linear_isometry():
    """float32 native vs float64 dense (1e-5 absolute: entries O(1), 6 layers of ~1e-6
    relative rounding); linear orth at sigma_w = 1, depth 40: every singular value 1 to
    1e-12 in float64 (closed form: a product of isometries)."""
    stack = _stack("orth", 16, 4, 6)
    j32 = jacobian_forward(stack, dtype=torch.float32).double()
    assert torch.allclose(j32.T, explicit_jacobian(stack), rtol=0, atol=1e-5)
    lin = _stack("orth", 32, 3, 40, act="linear", sw=1.0, sb=0.0)
    s = torch.linalg.svdvals(jacobian_forward(lin, dtype=torch.float64))
    assert float((s - 1).abs().max()) < 1e-12


def test_engine_without_the_native_kernel_uses_the_conv(monkeypatch):
    """No library (no compiler at install): the same Jacobian by the oneDNN conv route."""
    monkeypatch.setattr(nat, "_library", lambda: None)
    assert not nat.native_supported(orth_kernel_factored(16, 3)[1], torch.float32, "cpu", 2)
    monkeypatch.setattr(nat.NativeRun, "__call__", lambda *a: pytest.fail("native push called"))
    stack = _stack("orth", 16, 3, 3)
    jt = jacobian_forward(stack, dtype=torch.float64)
    assert torch.allclose(jt.T, explicit_jacobian(stack), rtol=0, atol=1e-10)


@native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_run_of_layers_is_the_layers_one_by_one(dtype):
    """Several layers in one call (each image through all of them in cache) give the same
    bits as one call per layer; layers of another shape cannot share a run."""
    g = torch.Generator().manual_seed(2)
    cl = torch.channels_last
    pushes, dphis = [], []
    for _ in range(5):
        _, f = orth_kernel_factored(16, 3, sigma_w=1.1, generator=g)
        pushes.append(nat.NativePush(f, dtype, 4))
        dphis.append(torch.rand(1, 16, 4, 4, generator=g, dtype=torch.float64).to(dtype))
    dphis = [d.contiguous(memory_format=cl) for d in dphis]
    x = torch.randn(6, 16, 4, 4, generator=g, dtype=torch.float64).to(dtype)
    x = x.contiguous(memory_format=cl)
    one = x.clone()
    for p, d in zip(pushes, dphis, strict=True):
        nxt = torch.empty_like(one)
        p(one, nxt, d, 0, 6, p.scratch())
        one = nxt
    run = nat.NativeRun(pushes, dphis)
    out = torch.empty_like(x)
    run(x, out, 0, 6, run.scratch())
    assert torch.equal(out, one)
    other = nat.NativePush(orth_kernel_factored(16, 3, generator=g)[1], dtype, 5)
    with pytest.raises(ValueError, match="one shape"):
        nat.NativeRun([pushes[0], other], dphis[:2])


@native
def test_native_run_refuses_what_its_pointers_cannot_take():
    push, src, d, _ = _native_case(16, 4, torch.float32)
    run = nat.NativeRun([push], [d])
    sc = run.scratch()
    with pytest.raises(ValueError, match="channels-last"):
        run(src.contiguous(), torch.empty_like(src), 0, 7, sc)  # NCHW layout
    with pytest.raises(ValueError, match="channels-last"):
        run(src.double(), torch.empty_like(src).double(), 0, 7, sc)  # dtype
    with pytest.raises(ValueError, match="rows"):
        run(src, torch.empty_like(src), 0, 8, sc)  # past the batch
    with pytest.raises(ValueError, match="overlap"):
        run(src, src, 0, 7, sc)
    with pytest.raises(ValueError, match="overlap"):  # rows 1..6 of src are rows 0..5 of dst
        run(src[:6], src[1:], 0, 5, sc)
    with pytest.raises(ValueError, match="scratch"):
        run(src, torch.empty_like(src), 0, 7, sc[:10])
    with pytest.raises(ValueError, match="scratch"):  # the right numel, one element's storage
        run(src, torch.empty_like(src), 0, 7, torch.empty(1).expand(sc.numel()))
    with pytest.raises(ValueError, match="phi'"):
        nat.NativeRun([push], [d[..., :2]])
    f = orth_kernel_factored(16, 3)[1]
    with pytest.raises(ValueError, match="float32/float64"):
        nat.NativePush(f, torch.float16, 4)


@native
def test_orth_kernel_size_one_forward_and_lanczos():
    """k = 1: no shift stages (one channel mix); forward and adjoint runs still exact."""
    from spectra.jacobian import JacobianOperator

    stack = _stack_k("orth", 16, 3, 3, k=1)
    j = explicit_jacobian(stack)
    assert torch.allclose(jacobian_forward(stack, dtype=torch.float64).T, j, rtol=0, atol=1e-12)
    op = JacobianOperator(stack, dtype=torch.float64)
    assert op.segments[0][2] is not None  # native
    v = torch.randn((2, *op.shape), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    flat = v.reshape(2, -1)
    torch.testing.assert_close(op.jvp(v).reshape(2, -1), flat @ j.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(op.vjp(v).reshape(2, -1), flat @ j, rtol=0, atol=1e-12)


@native
def test_stale_or_rounded_factors_are_not_used(monkeypatch):
    """A weight changed in place after the draw: its factors are dropped and the engine
    pushes the weight as it is now (= dense). float32 layers carry no factors (they
    describe the float64 kernel, not its rounding)."""
    stack = _stack("orth", 16, 3, 4)
    layers = list(stack.layers())
    layers[1][0].mul_(0.5)
    assert fac.factors_of(layers[1]) is None and fac.factors_of(layers[0]) is not None
    stale = replace(ConvStack.from_layers(layers, stack.x0, "tanh"), native=True)
    jt = jacobian_forward(stale, dtype=torch.float64)
    assert torch.allclose(jt.T, explicit_jacobian(stale), rtol=0, atol=1e-10)
    spec = BlockSpec(2, 16, 3, 3, 2, "orth", 1.0, 0.1)
    assert not any(
        isinstance(x, FactoredLayer) for x in iter_block_layers(spec, dtype=torch.float32)
    )


@native
@pytest.mark.usefixtures("one_thread")
def test_stable_method_through_native_pushes(monkeypatch):
    """``stable`` re-pushes a QR basis every group of layers (engine.load): on a c = 16
    orth stack (native float64 pushes, checked to run) its log singular values equal
    those of the explicit float64 product to 1e-10 (condition ~10: no log-domain need)."""
    from spectra.jacobian import stable_spectrum

    stack = _stack("orth", 16, 3, 12)
    calls = []
    real = nat.NativeRun.__call__
    monkeypatch.setattr(
        nat.NativeRun, "__call__", lambda self, *a: (calls.append(self.layers), real(self, *a))[1]
    )
    logs, _ = stable_spectrum(stack, group=5)
    assert sum(calls) >= 12
    ref = torch.linalg.svdvals(explicit_jacobian(stack)).log().numpy()
    assert float(abs(logs - ref).max()) < 1e-10


@native
@pytest.mark.parametrize(
    ("init", "c", "n", "k"),
    [
        ("gaussian", 16, 8, 3),
        ("gs2", 32, 3, 3),
        ("gaussian", 16, 2, 5),  # k > n: the taps wrap onto each other
        ("gs0", 16, 5, 3),  # centre tap only: one channel mix
        ("delta-orth", 64, 1, 3),
        ("gaussian", 128, 2, 3),
        ("orth", 16, 4, 3),  # the dense orth kernel by its taps (no factors)
    ],
)
@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_taps_are_the_circular_conv_times_dphi(init, c, n, k, adjoint, dtype):
    """Forward: circular cross-correlation with W; adjoint: with W^T flipped in space
    (the adjoint of a circular cross-correlation), both times phi'."""
    from spectra.kernels import conv_kernel

    g = torch.Generator().manual_seed(5)
    w = conv_kernel(init, c, c, k, sigma_w=1.3, generator=g)
    x = torch.randn(3, c, n, n, dtype=torch.float64, generator=g)
    d = torch.rand(1, c, n, n, dtype=torch.float64, generator=g)
    ref = circular_conv(x, w.transpose(0, 1).flip((2, 3)) if adjoint else w) * d
    push = nat.NativeTaps(w, dtype, n, adjoint=adjoint)
    cl = torch.channels_last
    src = x.to(dtype).contiguous(memory_format=cl)
    dst = torch.full_like(src, float("nan"))
    push(src, dst, d.to(dtype).contiguous(memory_format=cl), 0, 3, push.scratch())
    scale = float(ref.abs().max())
    tol = 1e-12 if dtype == torch.float64 else (5e-6 if c == 128 else 2e-6) * scale
    assert torch.allclose(dst.double(), ref, rtol=0, atol=tol)
    if init in ("gs0", "delta-orth"):
        assert push.mt.shape[0] == 1


@native
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("init", ["gaussian", "gs3", "delta-orth"])
def test_engine_native_taps_jacobian_matches_the_explicit_product(monkeypatch, init):
    """Every non-orth init at c = 16 goes through the native taps (checked), float64 vs
    the explicit product to 1e-10; float32 vs it to 1e-5 (O(1) entries)."""
    stack = _stack(init, 16, 4, 5)
    kinds = []
    real = nat.NativeRun.__call__
    monkeypatch.setattr(
        nat.NativeRun,
        "__call__",
        lambda self, *a: (kinds.append(self.first.kind), real(self, *a))[1],
    )
    dense = explicit_jacobian(stack)
    jt = jacobian_forward(stack, dtype=torch.float64)
    assert kinds and set(kinds) == {"taps"}
    assert torch.allclose(jt.T, dense, rtol=0, atol=1e-10)
    j32 = jacobian_forward(stack, dtype=torch.float32).double()
    assert torch.allclose(j32.T, dense, rtol=0, atol=1e-5)


@native
@pytest.mark.parametrize(("c", "n"), [(16, 2), (16, 3), (128, 5)])
@pytest.mark.parametrize("adjoint", [False, True])
def test_native_taps_sum_aliased_taps_first(c, n, adjoint):
    """k = 7 > n: the 49 taps land on min(k, n)^2 distinct offsets; they are summed in
    float64 before the push, so float32 keeps its 5e-6 bound (adding 49 aliased float32
    mixes one after another was measured 10x worse at c = 128, n = 5)."""
    from spectra.kernels import conv_kernel

    g = torch.Generator().manual_seed(8)
    w = conv_kernel("gaussian", c, c, 7, sigma_w=1.1, generator=g)
    x = torch.randn(2, c, n, n, dtype=torch.float64, generator=g)
    d = torch.rand(1, c, n, n, dtype=torch.float64, generator=g)
    ref = circular_conv(x, w.transpose(0, 1).flip((2, 3)) if adjoint else w) * d
    cl = torch.channels_last
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 5e-6 * float(ref.abs().max()))):
        push = nat.NativeTaps(w, dtype, n, adjoint=adjoint)
        assert push.mt.shape[0] == min(7, n) ** 2
        src = x.to(dtype).contiguous(memory_format=cl)
        dst = torch.empty_like(src)
        push(src, dst, d.to(dtype).contiguous(memory_format=cl), 0, 2, push.scratch())
        assert torch.allclose(dst.double(), ref, rtol=0, atol=tol)


def test_native_route_is_what_the_engine_runs():
    # the one route decision: factored for orth layers with factors, taps for a dense
    # kernel of a supported width, conv for 1D images or unsupported widths
    from spectra.jacobian import native_route

    fact = iter_block_layers(BlockSpec(2, 16, 4, 3, 2, "orth", 1.0, 0.0), dtype=torch.float64)
    layer = next(fact)
    want = "factored" if nat.native_available() else "conv"
    cpu = torch.device("cpu")
    assert native_route(layer, (16, 4, 4), torch.float64, cpu, native=True) == want
    plain = (layer[0].clone(), layer[1])
    want = "taps" if nat.native_available() else "conv"
    assert native_route(plain, (16, 4, 4), torch.float64, cpu, native=True) == want
    w1 = torch.zeros(16, 16, 3, dtype=torch.float64)
    assert native_route((w1, layer[1]), (16, 4), torch.float64, cpu, native=True) == "conv"
    w12 = torch.zeros(12, 12, 3, 3, dtype=torch.float64)
    assert (
        native_route((w12, torch.zeros(12)), (12, 4, 4), torch.float64, cpu, native=True) == "conv"
    )
    # the default follows the CPU: the native kernel only where it is the faster route
    auto = native_route(layer, (16, 4, 4), torch.float64, cpu)
    assert auto == ("factored" if nat.native_preferred() else "conv")
    assert native_route(layer, (16, 4, 4), torch.float64, cpu, native=False) == "conv"
