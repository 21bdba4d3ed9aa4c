"""The tangent-push engine [T22]: serial vs thread-pool modes, batch slices, the switch
between halo (k x k conv) and plain (delta kernel) forms, and the mode chooser."""

from __future__ import annotations

import time

import pytest
import torch
from reference import explicit_jacobian

from spectra.jacobian import ConvStack, native_available
from spectra.jacobian.testing import engine
from spectra.network import BlockSpec, fixed_point_input, iter_block_layers

pytestmark = pytest.mark.usefixtures("one_thread")


def _mixed_layers(dim: int, c: int, depth: int, seed: int):
    """Layers alternating orth / Gaussian 3x3 kernels with delta-orth ones, so the engine
    moves its state between the halo and the plain form several times."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(depth):
        init = ("orth", "delta-orth", "gaussian", "delta-orth", "delta-orth")[i % 5]
        spec = BlockSpec(1, c, 4, 3, dim, init, 1.1, 0.2)
        out += list(iter_block_layers(spec, generator=g))
    return out


def _push(layers, x0, dtype, *, chunks, mode=None, probe=None):
    """J^T by the engine with a forced mode (or adaptive with a tiny probe period)."""
    c, n, dim = x0.shape[0], x0.shape[-1], x0.ndim - 1
    nf = x0.numel()
    t = torch.eye(nf, dtype=dtype).reshape((nf, c) + (n,) * dim)
    eng = engine._Engine(t, 3, dtype, chunks, threads=1)
    if mode is not None:
        eng.adaptive, eng.mode = False, mode
    if probe is not None:
        eng.probe_every, eng.probe_len = probe
    act = ConvStack.from_layers(layers, x0).activation
    eng.run(iter(layers), x0.double(), act, dtype)  # float64 layers (orth: with factors)
    return eng.result().reshape(nf, nf)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_modes_slices_and_forms_agree_bit_for_bit(dim, dtype):
    # The adaptive engine may switch between serial and pool at any layer, so the two
    # must give the same bits, or the same seed would not give the same CSV bytes. The
    # mixed stack crosses halo <-> plain forms 8 times. Uneven slices (3 chunks of 64).
    c = 4
    layers = _mixed_layers(dim, c, 12, seed=dim)
    x0 = fixed_point_input(c, 4, dim=dim, q_star=0.4, generator=torch.Generator().manual_seed(5))
    whole = _push(layers, x0, dtype, chunks=1)
    pool = _push(layers, x0, dtype, chunks=3, mode="pool")
    serial = _push(layers, x0, dtype, chunks=3, mode="serial")
    flip = _push(layers, x0, dtype, chunks=2, probe=(3, 1))  # switches every few layers
    assert torch.equal(whole, pool) and torch.equal(whole, serial) and torch.equal(whole, flip)
    if dtype == torch.float64:
        # independent route: explicit conv matrices [T5]; O(1) values over 12 layers of
        # N = 64 (or 16) -> float64 rounding ~1e-14, so 1e-10 catches any layout error.
        dense = explicit_jacobian(ConvStack.from_layers(layers, x0))
        torch.testing.assert_close(whole.T, dense, rtol=0, atol=1e-10)


@pytest.mark.skipif(not native_available(), reason="native kernel not built")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_layers_between_halo_and_plain_forms(dtype):
    # c = 16: the orth layers take the native factored push, the Gaussian and delta-orth
    # ones the native taps (runs of one kind at a time), in every mode and slicing with
    # the same bits; float64 vs the explicit conv matrices to 1e-10. (The halo/plain form
    # changes of the conv route: the c = 4 test above.)
    c = 16
    layers = _mixed_layers(2, c, 11, seed=7)
    assert any(hasattr(layer, "factors") for layer in layers)
    x0 = fixed_point_input(c, 3, q_star=0.4, generator=torch.Generator().manual_seed(5))
    runs = [
        _push(layers, x0, dtype, chunks=1),
        _push(layers, x0, dtype, chunks=3, mode="pool"),
        _push(layers, x0, dtype, chunks=3, mode="serial"),
        _push(layers, x0, dtype, chunks=2, probe=(3, 1)),
    ]
    assert all(torch.equal(runs[0], r) for r in runs[1:])
    if dtype == torch.float64:
        dense = explicit_jacobian(ConvStack.from_layers(layers, x0))
        torch.testing.assert_close(runs[0].T, dense, rtol=0, atol=1e-10)


def test_pool_only_when_clearly_faster(monkeypatch):
    # The chooser on a fake clock: serial layers cost 1.0, pool layers ``p``. It probes
    # the pool every ``probe_every`` layers and keeps it only below 0.8x serial.
    t = torch.zeros(8, 1, 2, 2)
    for p, expect in ((0.9, "serial"), (0.5, "pool"), (1.5, "serial")):
        eng = engine._Engine(t, 3, torch.float32, 2, threads=2)
        eng.probe_every, eng.probe_len = 10, 3
        clock = [0.0]
        monkeypatch.setattr(time, "perf_counter", lambda clock=clock: clock[0])
        seen = []
        for _ in range(40):
            eng._choose()
            seen.append(eng.mode)
            clock[0] += 1.0 if eng.mode == "serial" else p
        monkeypatch.undo()
        assert "pool" in seen and "serial" in seen  # it did probe
        # outside the probe windows (layers 3..6 of every 10) the decision holds
        decided = [m for i, m in enumerate(seen[20:], 21) if i % 10 in (7, 8, 9, 0, 1, 2)]
        assert decided == [expect] * len(decided), (p, seen)
        eng.result()


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize(("k", "n"), [(1, 3), (5, 4), (5, 2), (7, 3), (3, 1)])
def test_kernel_sizes_and_kernels_wider_than_the_image(dim, k, n):
    # k = 1 (delta path only), r = 2 with n = 4, r = n (k = 5, n = 2 and k = 3, n = 1:
    # the halo aliases the image), r > n (k = 7, n = 3: the fallback). Engine in float64
    # with 2 forced pool slices vs the explicit conv matrices [T5]; O(1) values, 6 layers
    # -> rounding ~1e-15, so 1e-10 catches any halo/indexing error.
    c = 2
    g = torch.Generator().manual_seed(k * 10 + n)
    layers = []
    for init in ("orth", "gaussian", "delta-orth", "gaussian", "orth", "delta-orth"):
        layers += list(iter_block_layers(BlockSpec(1, c, n, k, dim, init, 1.2, 0.3), generator=g))
    x0 = fixed_point_input(c, n, dim=dim, q_star=0.5, generator=torch.Generator().manual_seed(3))
    nf = x0.numel()
    t = torch.eye(nf, dtype=torch.float64).reshape((nf, c) + (n,) * dim)
    eng = engine._Engine(t, k, torch.float64, 2, threads=1)
    eng.adaptive, eng.mode = False, "pool"
    eng.run(iter(layers), x0.double(), ConvStack.from_layers(layers, x0).activation, torch.float64)
    dense = explicit_jacobian(ConvStack.from_layers(layers, x0))
    torch.testing.assert_close(eng.result().reshape(nf, nf).T, dense, rtol=0, atol=1e-10)


def test_run_blocks_limits_and_groups_draw_every_layer_once():
    # Depth 70 > two blocks of 32; `limit` crossing block boundaries (the stable method's
    # groups of 20 and 7 layers) must neither skip nor repeat a layer: both the stable
    # spectrum and the forward one equal the dense SVD (float64, N = 16).
    from spectra.jacobian import spectrum

    # orthogonal kernels at a small q*: near-isometric, so the dense float64 SVD (whose
    # relative error is eps x condition number) is itself accurate to ~1e-14
    g = torch.Generator().manual_seed(4)
    layers = []
    for i in range(70):
        init = "orth" if i % 3 else "delta-orth"
        layers += list(iter_block_layers(BlockSpec(1, 4, 4, 3, 1, init, 1.0, 0.05), generator=g))
    x0 = fixed_point_input(4, 4, dim=1, q_star=0.05, generator=torch.Generator().manual_seed(8))
    stack = ConvStack.from_layers(layers, x0)
    ref = torch.linalg.svdvals(explicit_jacobian(stack)).log().numpy()
    from spectra.jacobian import stable_spectrum

    for group in (20, 7):
        logs, info = stable_spectrum(stack, group=group)
        assert info["qr_steps"] == -(-70 // group)
        torch.testing.assert_close(torch.tensor(logs), torch.tensor(ref), rtol=0, atol=1e-9)
    fwd = spectrum(stack, "forward", dtype=torch.float64).log_singular_values
    torch.testing.assert_close(torch.tensor(fwd), torch.tensor(ref), rtol=0, atol=1e-9)


def test_slices_have_at_least_two_rows():
    # A batch of one takes a different oneDNN kernel (other float32 bits): never sliced so.
    t = torch.zeros(5, 1, 2, 2)
    eng = engine._Engine(t, 3, torch.float32, 8, threads=2)
    assert min(hi - lo for lo, hi in eng.slices) >= 2 and eng.slices[-1][1] == 5
    eng.result()


@pytest.mark.parametrize("dim", [1, 2])
def test_caller_tangents_are_not_overwritten(dim):
    # The ping-pong buffers are written in turn; a contiguous float64 input (1D: no layout
    # change, so no implicit copy) must still come back untouched.
    from spectra.jacobian import JacobianOperator

    layers = _mixed_layers(dim, 3, 5, seed=2)
    x0 = fixed_point_input(3, 4, dim=dim, q_star=0.3, generator=torch.Generator().manual_seed(1))
    op = JacobianOperator(ConvStack.from_layers(layers, x0), dtype=torch.float64)
    v = torch.randn((2, *op.shape), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    keep = v.clone()
    op.jvp(v)
    op.vjp(v)
    assert torch.equal(v, keep)
