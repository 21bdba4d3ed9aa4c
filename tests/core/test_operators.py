"""Conv operators (spectra.operators): the explicit matrix [T5] against torch's own
convolutions, and the FFT singular values [T6]/[T7] against a dense SVD."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectra.errors import SpectraError
from spectra.kernels import conv_kernel
from spectra.operators import conv_matrix, conv_singular_values, wrapped_kernel

pytestmark = pytest.mark.usefixtures("one_thread")


def _rand_kernel(c_out, c_in, k, dim, seed):
    g = torch.Generator().manual_seed(seed)
    shape = tuple(k) if isinstance(k, tuple) else (k,) * dim
    return torch.randn((c_out, c_in) + shape, generator=g, dtype=torch.float64)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _periodic_conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Reference circular cross-correlation for ANY n >= 1 and any kernel shape, including
    n < r where F.pad refuses: index the input periodically to n + k - 1 per axis, (k - 1)
    // 2 before and k // 2 after (torch's and TF's 'same' split), then an unpadded conv."""
    dim = w.dim() - 2
    xe = x
    for t in range(dim):
        k, n = w.shape[2 + t], x.shape[1 + t]
        idx = torch.arange(-((k - 1) // 2), n + k // 2) % n
        xe = xe.index_select(1 + t, idx)
    return _CONV[dim](xe[None], w)[0]


CASES = [
    (dim, k, c_in, c_out, n)
    for dim in (1, 2)
    for k in (1, 3, 5)
    for c_in, c_out in ((4, 4), (3, 8), (8, 3))
    for n in (1, 2, k, 2 * k, 8)
] + [  # even, rectangular and 3D kernels
    (dim, k, c_in, c_out, n)
    for dim, k in ((1, 2), (1, 4), (2, 2), (2, 4), (2, (2, 3)), (2, (5, 2)), (3, 3), (3, 2))
    for c_in, c_out in ((3, 4), (4, 3))
    for n in (1, 3, 4)
]


@pytest.mark.parametrize(("dim", "k", "c_in", "c_out", "n"), CASES)
def test_conv_matrix_matches_torch_conv(dim, k, c_in, c_out, n):
    """M @ x.flatten() equals torch's conv on circularly padded input.
    Tolerance 1e-12 absolute on O(1)..O(10) outputs in float64: both sides sum the same
    k^d c_in products in different orders, so they differ by ~1e-15."""
    w = _rand_kernel(c_out, c_in, k, dim, seed=n + 10 * dim + 100 * c_in)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((c_in,) + (n,) * dim, generator=g, dtype=torch.float64)
    m = conv_matrix(w, n)
    assert m.shape == (c_out * n**dim, c_in * n**dim)
    y = m @ x.reshape(-1)
    ref = _periodic_conv(x, w)
    assert torch.max(torch.abs(y - ref.reshape(-1))).item() < 1e-12
    if isinstance(k, tuple) or k % 2 == 0:
        return
    r = k // 2
    if n >= r:  # the form quoted in theory [T2]
        conv = _CONV[dim]
        ref2 = conv(F.pad(x[None], (r,) * (2 * dim), mode="circular"), w)[0]
        assert torch.max(torch.abs(y - ref2.reshape(-1))).item() < 1e-12


def test_conv_matrix_matches_nn_conv2d_circular():
    """nn.Conv2d(padding=r, padding_mode='circular') is the same operator ([T2])."""
    conv = nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular", bias=False, dtype=torch.float64)
    x = torch.randn(3, 7, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = conv(x[None])[0].reshape(-1)
    y = conv_matrix(conv.weight.detach(), 7) @ x.reshape(-1)
    assert torch.max(torch.abs(y - ref)).item() < 1e-12


@pytest.mark.parametrize(
    ("module", "k"),
    [(nn.Conv1d, 4), (nn.Conv2d, 2), (nn.Conv2d, 4), (nn.Conv2d, (2, 3)), (nn.Conv3d, 2)],
)
def test_conv_matrix_matches_torch_same_padding_for_even_kernels(module, k):
    """Even and rectangular kernels: the tap origin is torch's padding='same' one
    ((k - 1) // 2 before, k // 2 after, [T2]); float64, 1e-12 as above."""
    conv = module(3, 2, k, padding="same", padding_mode="circular", bias=False)
    conv = conv.double()
    dim = conv.weight.dim() - 2
    x = torch.randn(
        (3,) + (5,) * dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        ref = conv(x[None])[0].reshape(-1)
    y = conv_matrix(conv.weight.detach(), 5) @ x.reshape(-1)
    assert torch.max(torch.abs(y - ref)).item() < 1e-12


def test_aliasing_when_n_below_k():
    """[T5]: for n = 1 every tap lands on the single position, so M = sum of the taps; for
    k = 5, n = 2 offsets -2, 0, 2 alias to 0 and -1, 1 to 1."""
    w = _rand_kernel(3, 2, 5, 2, seed=4)
    torch.testing.assert_close(conv_matrix(w, 1), w.sum(dim=(2, 3)), rtol=0, atol=1e-14)
    w1 = _rand_kernel(2, 2, 5, 1, seed=5)
    wn = wrapped_kernel(w1, 2)
    torch.testing.assert_close(wn[..., 0], w1[..., 0] + w1[..., 2] + w1[..., 4])
    torch.testing.assert_close(wn[..., 1], w1[..., 1] + w1[..., 3])


SV_CASES = [
    (dim, k, c_in, c_out, n)
    for dim in (1, 2)
    for k in (1, 3, 5)
    for c_in, c_out in ((4, 4), (3, 8), (8, 3), (5, 1))
    for n in (1, 3, 8)
] + [
    (dim, k, c_in, c_out, n)
    for dim, k in ((1, 4), (2, 2), (2, (3, 2)), (3, 3), (3, 2))
    for c_in, c_out in ((3, 4), (4, 2))
    for n in (1, 3)
]


@pytest.mark.parametrize(("dim", "k", "c_in", "c_out", "n"), SV_CASES)
def test_fft_singular_values_match_dense_svd(dim, k, c_in, c_out, n):
    """The FFT route [T7] gives the n^d min(c_in, c_out) singular values of the
    dense matrix, sorted descending. Tolerance 1e-10 absolute on values of size ~1..10:
    both are backward-stable SVDs of the same operator (one after an exact unitary change
    of basis), so they agree to ~1e-14."""
    w = _rand_kernel(c_out, c_in, k, dim, seed=7 * n + dim + 13 * c_out)
    fast = conv_singular_values(w, n)
    dense = torch.linalg.svdvals(conv_matrix(w, n))
    assert fast.shape == (n**dim * min(c_in, c_out),)
    assert torch.all(fast[:-1] >= fast[1:])
    assert torch.max(torch.abs(fast - dense)).item() < 1e-10


def test_fft_singular_values_of_orthogonal_kernel_at_scale():
    """An isometry stays one through the FFT route at a size where the dense SVD would be
    64k x 64k: 2D, c = 64, n = 32, Algorithm 1 with k = 3 ([T7], [T8])."""
    w = conv_kernel("orth", 64, 64, 3, sigma_w=0.8, generator=0)
    sv = conv_singular_values(w, 32)
    assert sv.numel() == 64 * 32**2
    assert torch.max(torch.abs(sv - 0.8)).item() < 1e-12


def test_float32_kernels_work():
    w = _rand_kernel(4, 4, 3, 2, seed=0)
    sv64 = conv_singular_values(w, 6)
    sv32 = conv_singular_values(w.float(), 6)
    assert sv32.dtype == torch.float32
    # float32 SVD: relative error ~ 1e-6 of the largest singular value
    assert torch.max(torch.abs(sv32.double() - sv64)).item() < 1e-5 * sv64[0].item()
    assert conv_matrix(w.float(), 6).dtype == torch.float32


@pytest.mark.parametrize(
    ("kernel", "size", "needle"),
    [
        (torch.zeros(2, 2, 3, 3, 3, 3), 3, "1 to 3 spatial axes"),
        (torch.zeros(2, 3), 3, "shape"),
        (torch.zeros(2, 2, 3), 0, "size"),
        (torch.zeros(2, 2, 3, 3), (3, 3, 3), "2 of them"),
    ],
)
def test_bad_operator_inputs(kernel, size, needle):
    for fn in (conv_matrix, conv_singular_values):
        with pytest.raises(SpectraError, match=needle):
            fn(kernel, size)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    """The same kernel on the GPU gives the same matrix (exact gather) and the same FFT
    singular values to 1e-10 (different SVD implementations, both backward stable)."""
    w = _rand_kernel(6, 4, 3, 2, seed=3)
    torch.testing.assert_close(conv_matrix(w.cuda(), 5).cpu(), conv_matrix(w, 5), rtol=0, atol=0)
    sv = conv_singular_values(w.cuda(), 9).cpu()
    assert torch.max(torch.abs(sv - conv_singular_values(w, 9))).item() < 1e-10
