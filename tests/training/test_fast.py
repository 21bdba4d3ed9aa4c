"""The native training route of the circular block against the PyTorch route
(:meth:`spectra.network.CircularConvBlock.forward`, an independent implementation: padded
copies and oneDNN convolutions, differentiated by autograd)."""

from __future__ import annotations

import pytest
import torch

from spectra.errors import SpectraError
from spectra.network import CircularConvBlock
from spectra.training import FAST_CHANNELS, circular_block, fast_available, tap_tables

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.skipif(not fast_available(), reason="native training kernel not built"),
]


def _block(depth, c, k, dim, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn((depth, c, c) + (k,) * dim, generator=g, dtype=torch.float64)
    b = torch.randn(depth, c, generator=g, dtype=torch.float64) * 0.1
    return CircularConvBlock((w / (k ** (dim / 2) * c**0.5)).to(dtype), b.to(dtype))


def _grads(block, x, route, segment=0):
    block.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    y = circular_block(block, x, route=route, segment=segment)
    y.pow(3).sum().backward()  # a non-linear loss: the output gradient is not uniform
    return y.detach(), x.grad, block.weight.grad, block.bias.grad


# shapes: 2D 3x3 (the training block), 1D, a 5x5 kernel that wraps onto 2x2 maps
# (aliased taps), a non-square count of pixels per block tail (n = 5)
SHAPES = [(3, 8, 3, 2, 7), (2, 16, 3, 2, 5), (3, 8, 3, 1, 6), (2, 8, 5, 2, 2)]


@pytest.mark.parametrize(("depth", "c", "k", "dim", "n"), SHAPES)
def test_float64_gradcheck_of_the_native_block(depth, c, k, dim, n):
    block = _block(depth, c, k, dim, torch.float64)
    x = torch.randn((2, c) + (n,) * dim, dtype=torch.float64, requires_grad=True)
    w = block.weight.detach().clone().requires_grad_()
    b = block.bias.detach().clone().requires_grad_()

    def f(x, w, b):
        block.weight, block.bias = torch.nn.Parameter(w), torch.nn.Parameter(b)
        stub = type("Stub", (), {})()
        stub.weight, stub.bias, stub.activation, stub.depth = w, b, block.activation, depth
        return circular_block(stub, x, route="native")

    # finite differences vs the native analytic backward (gradcheck's default tolerances)
    assert torch.autograd.gradcheck(f, (x, w, b))


@pytest.mark.parametrize(("depth", "c", "k", "dim", "n"), SHAPES)
def test_native_vs_torch_route_float64(depth, c, k, dim, n):
    block = _block(depth, c, k, dim, torch.float64)
    x = torch.randn((3, c) + (n,) * dim, dtype=torch.float64)
    for a, b in zip(_grads(block, x, "native"), _grads(block, x, "torch"), strict=True):
        # different summation orders only: float64 rounding over a few layers
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("c", [16, 32])
def test_native_vs_torch_route_float32_at_depth(c):
    block = _block(100, c, 3, 2, torch.float32)
    x = torch.randn(10, c, 7, 7) * 0.5
    got, ref = _grads(block, x, "native"), _grads(block, x, "torch")
    for a, b in zip(got, ref, strict=True):
        # float32 rounding (~6e-8) and the native tanh's few-ulp error, accumulated over
        # 100 near-isometric layers: measured max ~1e-5 of the largest entry; allow 1e-4
        err = float((a - b).abs().max() / b.abs().max())
        assert err < 1e-4


def test_segments_give_the_same_bits_and_runs_repeat():
    block = _block(12, 16, 3, 2, torch.float32)
    x = torch.randn(4, 16, 7, 7)
    full = _grads(block, x, "native")
    for seg in (1, 5, 12):  # recomputation runs the same code on the same inputs
        for a, b in zip(full, _grads(block, x, "native", segment=seg), strict=True):
            assert torch.equal(a, b)
    for a, b in zip(full, _grads(block, x, "native"), strict=True):  # deterministic
        assert torch.equal(a, b)


def test_inference_forward_matches_the_training_forward():
    block = _block(7, 8, 3, 2, torch.float32)
    x = torch.randn(3, 8, 7, 7)
    with torch.no_grad():
        got = circular_block(block, x)
    assert torch.equal(got, _grads(block, x, "native")[0])


def test_fallback_and_refusal():
    block = _block(3, 4, 3, 2, torch.float32)  # c = 4 is not compiled: torch route
    assert 4 not in FAST_CHANNELS
    x = torch.randn(2, 4, 7, 7)
    assert torch.equal(circular_block(block, x), block(x))
    with pytest.raises(SpectraError):
        circular_block(block, x, route="native")


def test_fallback_without_the_library(monkeypatch):
    # as if the extension had not been built (the route's one availability check)
    monkeypatch.setattr("spectra.training._fast.fast_available", lambda: False)
    block = _block(3, 8, 3, 2, torch.float32)
    x = torch.randn(2, 8, 7, 7)
    assert torch.equal(circular_block(block, x), block(x))


def test_tap_tables_are_inverse_permutations():
    src, dst = tap_tables(5, 2, 3)
    for t in range(9):
        assert torch.equal(src[dst[:, t].long(), t], torch.arange(25, dtype=torch.int32))
    # the centre tap reads the pixel itself; tap (0, 0) reads (y - 1, x - 1) circularly
    assert torch.equal(src[:, 4], torch.arange(25, dtype=torch.int32))
    assert int(src[0, 0]) == 24
