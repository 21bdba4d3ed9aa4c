"""Orthogonal kernels beyond odd 1D/2D shapes, and the law of Algorithm 1 against TF's.

- Even k (tap origin (k - 1) // 2, 'same' padding), 3D kernels, rectangular and
  non-square delta-orthogonal kernels and negative gains are exact isometries: all singular
  values of the circular operator equal |gain|, by the FFT route [T7] and by a dense SVD of
  the explicit matrix [T5] (two independent routes).
- The orientation statistic ||K00^T K01||^2 - ||K00^T K10||^2 of spectra's Algorithm-1
  kernels has the distribution of a reference written here from TF's published
  ``ConvolutionOrthogonal2D`` algorithm in TF's own row-vector layout (``[k, k, c_in,
  c_out]``, y = x K), drawn with numpy ([T8]). A kernel with its spatial axes swapped has
  the mirrored law, which the same test rejects (so the test can fail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from spectra.kernels import (
    conv_kernel,
    delta_orthogonal_,
    orth_kernel_factored,
    orthogonal_conv_,
    variance_vector,
)
from spectra.operators import conv_matrix, conv_singular_values

pytestmark = pytest.mark.usefixtures("one_thread")

GAIN = -1.21  # a negative gain: the operator is |gain| times an isometry


# --------------------------------------------------------------------------- isometries
SHAPE_CASES = [
    ("orth", 1, 2, 3, 5, 4),
    ("orth", 1, 4, 2, 2, 7),
    ("orth", 2, 2, 4, 4, 3),
    ("orth", 2, 4, 3, 5, 4),
    ("orth", 2, 6, 2, 3, 5),
    ("orth", 3, 3, 3, 4, 3),
    ("orth", 3, 2, 2, 2, 4),
    ("orth", 3, 4, 2, 3, 2),
    ("delta-orth", 2, 4, 3, 5, 4),
    ("delta-orth", 2, (3, 2), 3, 5, 4),
    ("delta-orth", 3, (2, 3, 1), 2, 4, 3),
    ("delta-orth", 3, 3, 4, 4, 3),
]


@pytest.mark.parametrize(("init", "dim", "k", "c_in", "c_out", "n"), SHAPE_CASES)
def test_even_3d_and_rectangular_kernels_are_exact_isometries(init, dim, k, c_in, c_out, n):
    """Singular values = |gain| to 1e-12 by both routes. The construction is exact, so
    the error is float64 rounding of <= 2 (k - 1) d products of c x c matrices and the SVDs
    (measured <= 2e-15); 1e-12 leaves room without hiding a wrong tap."""
    w = conv_kernel(init, c_out, c_in, k, dim=dim, sigma_w=GAIN, generator=11 + n + 7 * dim)
    shape = k if isinstance(k, tuple) else (k,) * dim
    assert w.shape == (c_out, c_in) + shape
    fft = conv_singular_values(w, n)
    assert fft.numel() == c_in * n**dim
    assert torch.max(torch.abs(fft - abs(GAIN))).item() < 1e-12
    dense = torch.linalg.svdvals(conv_matrix(w, n))
    assert dense.numel() == c_in * n**dim
    assert torch.max(torch.abs(dense - abs(GAIN))).item() < 1e-12


def test_3d_isometry_at_a_larger_size_through_the_fft_route():
    """c = 16, k = 3, 3D, n = 8: 8192 singular values, all |gain| to 1e-12 ([T7])."""
    w = conv_kernel("orth", 16, 16, 3, dim=3, sigma_w=GAIN, generator=3)
    sv = conv_singular_values(w, 8)
    assert sv.numel() == 16 * 8**3
    assert torch.max(torch.abs(sv - abs(GAIN))).item() < 1e-12


def test_even_kernel_profile_and_delta_origin():
    """Even k keeps the binomial profile of [T8] (here its exact total: Parseval gives
    sum of squared taps = c_in gain^2), and delta-orth puts its matrix on the origin tap
    (k - 1) // 2, where variance_vector puts e_0."""
    w = conv_kernel("orth", 6, 6, 4, dim=3, sigma_w=GAIN, generator=0)
    assert math.isclose((w**2).sum().item(), 6 * GAIN**2, rel_tol=1e-12)
    v = variance_vector("orth", 4, 3)
    assert v.shape == (4, 4, 4) and math.isclose(v[0, 0, 0], (1 / 8) ** 3)
    d = conv_kernel("delta-orth", 5, 3, 4, dim=2, generator=1)
    taps = (d**2).sum(dim=(0, 1))
    assert taps[1, 1].item() == pytest.approx(3.0) and taps.sum().item() == pytest.approx(3.0)
    assert variance_vector("delta-orth", 4, 2)[1, 1] == 1.0


@pytest.mark.parametrize(
    ("module", "k", "wrapper"),
    [
        (nn.Conv2d, 4, orthogonal_conv_),
        (nn.Conv1d, 2, orthogonal_conv_),
        (nn.Conv3d, 3, orthogonal_conv_),
        (nn.Conv3d, 2, delta_orthogonal_),
        (nn.Conv2d, (2, 3), delta_orthogonal_),
    ],
)
def test_wrappers_accept_even_3d_and_rectangular_modules(module, k, wrapper):
    """A user's float64 module with padding='same', padding_mode='circular' is |gain|
    times an isometry after the fill: its own operator (probed with basis images; an
    independent route from conv_matrix) has singular values |gain| to 1e-12 (float64)."""
    conv = module(3, 4, k, padding="same", padding_mode="circular", bias=False).double()
    out = wrapper(conv.weight, gain=GAIN, generator=torch.Generator().manual_seed(2))
    assert out is conv.weight
    dim, n = conv.weight.dim() - 2, 4
    basis = torch.eye(3 * n**dim, dtype=torch.float64).reshape((-1, 3) + (n,) * dim)
    with torch.no_grad():
        m = conv(basis).reshape(3 * n**dim, -1).T
    sv = torch.linalg.svdvals(m)
    assert torch.max(torch.abs(sv - abs(GAIN))).item() < 1e-12
    torch.testing.assert_close(m, conv_matrix(conv.weight.detach(), n), rtol=0, atol=1e-13)


@pytest.mark.parametrize(("c", "k", "dim"), [(4, 3, 3), (5, 4, 2), (3, 2, 3)])
def test_factored_form_for_even_and_3d_kernels(c, k, dim):
    """The factored draw is still the dense kernel bit for bit, and its torch application
    equals the explicit operator [T5] (1e-12: float64 sums of O(1) terms)."""
    g = torch.Generator().manual_seed(5)
    w, f = orth_kernel_factored(c, k, dim=dim, sigma_w=GAIN, generator=g)
    ref = conv_kernel(
        "orth", c, c, k, dim=dim, sigma_w=GAIN, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(w, ref)
    n = 3
    x = torch.randn((2, c) + (n,) * dim, dtype=torch.float64, generator=g)
    y = (conv_matrix(w, n) @ x.reshape(2, -1).T).T.reshape(x.shape)
    assert torch.allclose(f.apply(x), y, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- TF's law
def _tf_orthogonal(rng, n: int, draws: int) -> np.ndarray:
    """TF ``_orthogonal_matrix``: QR of an n x n Gaussian, q *= sign(diag r); (draws, n, n)."""
    q, r = np.linalg.qr(rng.standard_normal((draws, n, n)))
    return q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]


def _tf_projection(rng, n: int, draws: int) -> np.ndarray:
    """TF ``_symmetric_projection``: c = q * (normal > 0 column mask), P = c c^T."""
    c = _tf_orthogonal(rng, n, draws) * (rng.standard_normal((draws, 1, n)) > 0)
    return c @ np.swapaxes(c, 1, 2)


def _tf_block_orth(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """TF ``_block_orth``: the 2 x 2 kernel {00: p1 p2, 01: p1 (I - p2), 10: (I - p1) p2,
    11: (I - p1)(I - p2)}, shape (draws, 2, 2, n, n)."""
    eye = np.eye(p1.shape[-1])
    f1, f2 = (p1, eye - p1), (p2, eye - p2)
    return np.stack([np.stack([a @ b for b in f2], axis=1) for a in f1], axis=1)


def _tf_matrix_conv(m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """TF ``_matrix_conv``: result[i, j] = sum m1[i1, j1] @ m2[i - i1, j - j1]."""
    d, k, _, n, _ = m1.shape
    ell = m2.shape[1]
    out = np.zeros((d, k + ell - 1, k + ell - 1, n, n))
    for a in range(ell):
        for b in range(ell):
            out[:, a : a + k, b : b + k] += m1 @ m2[:, a : a + 1, b : b + 1]
    return out


def _tf_kernels(rng, k: int, c: int, draws: int) -> np.ndarray:
    """TF ``ConvolutionOrthogonal2D._orthogonal_kernel(k, c, c)`` for ``draws`` kernels in
    TF layout (draws, k, k, c_in, c_out): orth, p = block_orth(...) conv'd k - 2 more
    times, then p[i, j] = orth @ p[i, j]."""
    orth = _tf_orthogonal(rng, c, draws)
    p = _tf_block_orth(_tf_projection(rng, c, draws), _tf_projection(rng, c, draws))
    for _ in range(k - 2):
        temp = _tf_block_orth(_tf_projection(rng, c, draws), _tf_projection(rng, c, draws))
        p = _tf_matrix_conv(p, temp)
    return orth[:, None, None] @ p


def _orientation(k00: np.ndarray, k01: np.ndarray, k10: np.ndarray) -> np.ndarray:
    """||K00^T K01||_F^2 - ||K00^T K10||_F^2 per draw (torch layout taps (c_out, c_in))."""
    t = np.swapaxes(k00, -1, -2)
    return ((t @ k01) ** 2).sum((-1, -2)) - ((t @ k10) ** 2).sum((-1, -2))


def _law_check(k: int, draws: int) -> None:
    c = 16
    tf = _tf_kernels(np.random.default_rng(1000 + k), k, c, draws)
    tf_taps = np.swapaxes(tf, -1, -2)  # TF tap [i, j] is x -> x K; ours is its transpose
    ref = _orientation(tf_taps[:, 0, 0], tf_taps[:, 0, 1], tf_taps[:, 1, 0])
    g = torch.Generator().manual_seed(2000 + k)
    w = torch.stack([conv_kernel("orth", c, c, k, generator=g) for _ in range(draws)]).numpy()
    ours = _orientation(w[:, :, :, 0, 0], w[:, :, :, 0, 1], w[:, :, :, 1, 0])
    swapped = _orientation(w[:, :, :, 0, 0], w[:, :, :, 1, 0], w[:, :, :, 0, 1])
    # k = 3: mean -0.12 (TF) against +0.12 for the axis-swapped law; k = 5: -0.0013 against
    # +0.0015 (the corner taps are light). With 2000 draws each side KS separates the two
    # laws (measured p = 0 and 1e-105) and keeps a true match above 1e-3 with probability
    # 0.999 (seeds are fixed: measured p = 0.61 and 0.17).
    assert stats.ks_2samp(ours, ref).pvalue > 1e-3
    assert stats.ks_2samp(swapped, ref).pvalue < 1e-6
    se = math.hypot(ours.std(ddof=1), ref.std(ddof=1)) / math.sqrt(draws)
    assert abs(ours.mean() - ref.mean()) < 4 * se  # 4 s.e.: false alarm 6e-5
    assert ref.mean() < -4 * ref.std(ddof=1) / math.sqrt(draws)  # the law is oriented


@pytest.mark.parametrize("k", [3, 5])
def test_orientation_law_matches_tf_reference(k):
    _law_check(k, 2000)
