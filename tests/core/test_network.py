"""VanillaCNN and its circular block (the theory page [T1]-[T3], [T21])."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spectra.errors import SpectraError
from spectra.network import (
    BlockSpec,
    CircularConvBlock,
    VanillaCNN,
    circular_conv,
    fixed_point_input,
    iter_block_layers,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_circular_conv_matches_torch_circular_padding(dim, k):
    # Independent route [T2]: F.pad(mode='circular') + conv; exact same arithmetic order
    # is not guaranteed, so float64 with 1e-13 (a few ulps times the tap count).
    g = _gen(1)
    x = torch.randn((3, 4) + (6,) * dim, generator=g, dtype=torch.float64)
    w = torch.randn((5, 4) + (k,) * dim, generator=g, dtype=torch.float64)
    r = (k - 1) // 2
    conv = F.conv1d if dim == 1 else F.conv2d
    ref = conv(F.pad(x, (r, r) * dim, mode="circular"), w) if r else conv(x, w)
    torch.testing.assert_close(circular_conv(x, w), ref, rtol=0, atol=1e-13)


def test_circular_conv_wraps_when_kernel_exceeds_size():
    # n = 2 < r = 2 for k = 5: taps alias and sum [T5]; compare with an explicit loop.
    g = _gen(2)
    x = torch.randn(1, 2, 2, 2, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64)
    out = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    for a in range(2):
        for b in range(2):
            for t1 in range(5):
                for t2 in range(5):
                    out[0, :, a, b] += w[:, :, t1, t2] @ x[0, :, (a + t1 - 2) % 2, (b + t2 - 2) % 2]
    torch.testing.assert_close(circular_conv(x, w), out, rtol=0, atol=1e-12)


def test_block_is_phi_of_conv_plus_bias():
    # [T1]: x^l = phi(W^l * x^{l-1} + b^l), with a hand loop over the stacked parameters.
    g = _gen(3)
    w = torch.randn(4, 3, 3, 3, 3, generator=g, dtype=torch.float64) / 5
    b = torch.randn(4, 3, generator=g, dtype=torch.float64) / 10
    blk = CircularConvBlock(w, b, "tanh")
    x = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
    y = x
    for l in range(4):
        y = torch.tanh(
            F.conv2d(F.pad(y, (1, 1, 1, 1), mode="circular"), w[l]) + b[l, :, None, None]
        )
    torch.testing.assert_close(blk(x), y, rtol=0, atol=1e-13)
    assert blk.depth == 4 and blk.channels == 3 and blk.kernel == 3 and blk.dim == 2
    assert len(blk.layers()) == 4


def test_vanilla_cnn_shapes_and_stream_equivalence():
    m = VanillaCNN(6, 8, init="orth", generator=_gen(5), dtype=torch.float64)
    assert m.block_size == 7  # 28 -> 28 -> 14 -> 7
    assert m(torch.randn(3, 1, 28, 28, dtype=torch.float64)).shape == (3, 10)
    assert m.features(torch.zeros(1, 1, 28, 28, dtype=torch.float64)).shape == (1, 8, 7, 7)
    # the block drawn first: identical to the streamed layers with the same seed
    spec = BlockSpec(6, 8, 7, 3, 2, "orth", m.sigma_w, m.sigma_b)
    for (w, b), (w2, b2) in zip(
        m.block.layers(), iter_block_layers(spec, generator=_gen(5)), strict=True
    ):
        assert torch.equal(w, w2) and torch.equal(b, b2)
    # default operating point: critical with q* = 1/depth [T16]
    assert math.isclose(m.q_star, 1 / 6, rel_tol=1e-12)


def test_vanilla_cnn_1d_float32_and_gradients():
    m = VanillaCNN(5, 6, in_channels=3, image_size=32, dim=1, init="gaussian", generator=_gen(7))
    x = torch.randn(2, 3, 32)
    loss = m(x).square().sum()
    loss.backward()
    assert m.block.weight.grad.shape == (5, 6, 6, 3)
    assert torch.isfinite(m.block.weight.grad).all()
    assert m.block.weight.dtype == torch.float32


def test_explicit_operating_point_and_same_seed_same_weights():
    a = VanillaCNN(3, 4, sigma_w=1.3, sigma_b=0.3, generator=_gen(9), init="gaussian")
    b = VanillaCNN(3, 4, sigma_w=1.3, sigma_b=0.3, generator=_gen(9), init="gaussian")
    assert (a.sigma_w, a.sigma_b) == (1.3, 0.3)
    assert abs(a.q_star - 0.6070467919) < 1e-8  # the theory page's Table 1, (1.3, 0.3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_fixed_point_input_exact_mean_square_per_pixel_and_global():
    # default: each pixel's c-vector of h^0 = atanh(x0) has mean square q* exactly [T21];
    # 1e-12 relative is float64 rounding through tanh/atanh at |h| ~ 1
    x = fixed_point_input(16, 5, q_star=0.3, generator=_gen(3))
    h = torch.atanh(x)
    assert torch.allclose(h.square().mean(0), torch.full((5, 5), 0.3, dtype=h.dtype), rtol=1e-12)
    xg = fixed_point_input(16, 5, q_star=0.3, generator=_gen(3), scaling="global", batch=2)
    hg = torch.atanh(xg)
    assert torch.allclose(hg.square().mean((1, 2, 3)), torch.full((2,), 0.3, dtype=h.dtype))
    assert hg[0].square().mean(0).std() > 1e-3  # global only: pixels differ
    with pytest.raises(SpectraError):
        fixed_point_input(4, 4, q_star=0.3, scaling="exact")


def test_fixed_point_input_variance():
    # the i.i.d. draw h^0 ~ N(0, q*) [T21]: sample variance q* within 4 s.e.
    x = fixed_point_input(64, 16, q_star=0.5, generator=_gen(11), scaling="iid")
    h = torch.atanh(x)
    se = 0.5 * math.sqrt(2 / h.numel())
    assert abs(h.var().item() - 0.5) < 4 * se


@pytest.mark.parametrize(
    "kw",
    [dict(depth=0, channels=4), dict(depth=3, channels=0), dict(depth=3, channels=4, kernel=4)],
)
def test_bad_shapes_raise(kw):
    with pytest.raises(SpectraError):
        VanillaCNN(generator=_gen(), **kw)
    with pytest.raises(SpectraError):
        VanillaCNN(3, 2, in_channels=3, init="orth")  # orth needs c_in <= c_out
