"""Algorithm-1 kernels in factored form (spectra/factored.py).

The factored draws against the dense kernel of :func:`spectra.kernels.conv_kernel`
(bit-identical: the same draws), and their torch application against
:func:`spectra.network.circular_conv` of the dense weight (an index-gather pad, no
factors): float64, 1e-12 (five c-term sums of O(1) terms: rounding ~1e-15). The native
pushes that use the factors: tests/jacobian/test_native.py.
"""

from __future__ import annotations

import pickle

import pytest
import torch

from spectra.kernels import FactoredLayer, conv_kernel, orth_kernel_factored
from spectra.network import BlockSpec, circular_conv, iter_block_layers


@pytest.mark.parametrize(
    ("c", "k", "dim"), [(16, 3, 2), (5, 3, 2), (4, 5, 1), (6, 1, 2), (3, 5, 2)]
)
def test_factored_draw_is_the_dense_kernel_bit_for_bit(c, k, dim):
    w, _ = orth_kernel_factored(
        c, k, dim=dim, sigma_w=1.3, generator=torch.Generator().manual_seed(4)
    )
    ref = conv_kernel(
        "orth", c, c, k, dim=dim, sigma_w=1.3, generator=torch.Generator().manual_seed(4)
    )
    assert torch.equal(w, ref)
    torch.manual_seed(9)
    w0, _ = orth_kernel_factored(c, k, dim=dim)
    torch.manual_seed(9)
    assert torch.equal(w0, conv_kernel("orth", c, c, k, dim=dim))


@pytest.mark.parametrize(
    ("c", "k", "dim", "n"),
    [(16, 3, 2, 8), (4, 3, 1, 5), (8, 5, 2, 3), (6, 3, 2, 1), (3, 7, 1, 2), (5, 1, 2, 4)],
)
def test_factors_apply_the_dense_circular_conv(c, k, dim, n):
    """The factors are an exact rewrite of the kernel, for any n (n < k included: taps wrap)."""
    g = torch.Generator().manual_seed(1)
    w, f = orth_kernel_factored(c, k, dim=dim, sigma_w=0.9, generator=g)
    x = torch.randn((4, c) + (n,) * dim, dtype=torch.float64, generator=g)
    assert len(f.mats) == 1 + (k - 1) * dim and all(0 <= r <= c for r in f.ranks)
    assert torch.allclose(f.apply(x), circular_conv(x, w), rtol=0, atol=1e-12)


def test_factored_layers_come_from_iter_block_layers_and_pickle():
    spec = BlockSpec(3, 4, 5, 3, 2, "orth", 1.1, 0.2)
    layers = list(iter_block_layers(spec, generator=torch.Generator().manual_seed(0)))
    plain = BlockSpec(3, 4, 5, 3, 2, "gaussian", 1.1, 0.2)
    assert all(isinstance(layer, FactoredLayer) for layer in layers)
    assert not any(isinstance(x, FactoredLayer) for x in iter_block_layers(plain))
    w, b = layers[0]
    back = pickle.loads(pickle.dumps(layers[0]))
    assert torch.equal(back[0], w) and torch.equal(back[1], b)
    assert torch.equal(back.factors.mats, layers[0].factors.mats)
