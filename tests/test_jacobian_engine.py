"""The tangent-push engine [T22]: serial vs thread-pool modes, batch slices, the switch
between halo (k x k conv) and plain (delta kernel) forms, and the mode chooser."""

from __future__ import annotations

import time

import pytest
import torch

from spectra.jacobian import ConvStack, jacobian_dense
from spectra.jacobian_engine import _Engine, _primal_step
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
    eng = _Engine(t, 3, dtype, chunks, threads=1)
    if mode is not None:
        eng.adaptive, eng.mode = False, mode
    if probe is not None:
        eng.probe_every, eng.probe_len = probe
    x = x0.double()
    for w, b in layers:
        x, d = _primal_step(x, w.double(), b.double(), ConvStack.from_layers(layers, x0).activation)
        eng.step(w.to(dtype), d.to(dtype))
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
        dense = jacobian_dense(ConvStack.from_layers(layers, x0))
        torch.testing.assert_close(whole.T, dense, rtol=0, atol=1e-10)


def test_pool_only_when_clearly_faster(monkeypatch):
    # The chooser on a fake clock: serial layers cost 1.0, pool layers ``p``. It probes
    # the pool every ``probe_every`` layers and keeps it only below 0.8x serial.
    t = torch.zeros(8, 1, 2, 2)
    for p, expect in ((0.9, "serial"), (0.5, "pool"), (1.5, "serial")):
        eng = _Engine(t, 3, torch.float32, 2, threads=2)
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
