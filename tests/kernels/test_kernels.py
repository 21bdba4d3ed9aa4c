"""Initializers (spectra.kernels): exact orthogonality of Algorithm 1/2 checked by dense SVD
of the explicit operator (the theory page [T5], [T8], [T9]), Gaussian tap variances against a
chi-square bound ([T3], [T4]), the nn.init wrappers on real torch modules, validation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from spectra.errors import SpectraError
from spectra.kernels import (
    DENSE_INIT_NAMES,
    GAUSSIAN_INIT_NAMES,
    INIT_NAMES,
    conv_kernel,
    delta_orthogonal_,
    dense_weight,
    gaussian_conv_,
    haar_orthogonal,
    orthogonal_conv_,
    random_projection,
    variance_vector,
)
from spectra.operators import conv_matrix

SIGMA_W = 1.37

ORTH_CASES = [
    (dim, k, c_in, c_out, n)
    for dim in (1, 2)
    for k in (1, 3, 5)
    for c_in, c_out in ((4, 4), (3, 8), (16, 16), (1, 6))  # (1, 6): a stem layer
    for n in sorted({k, 2 * k, 8})
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("init", ["orth", "delta-orth"])
@pytest.mark.parametrize(("dim", "k", "c_in", "c_out", "n"), ORTH_CASES)
def test_orthogonal_kernels_give_exact_isometries(init, dim, k, c_in, c_out, n):
    """Every singular value of the explicit circular operator [T5], from a
    dense SVD (up to 1600 x 1600), is sigma_w. Tolerance 1e-10: the
    construction is exact, so the only error is float64 rounding of ~2(k-1) products of
    c x c matrices plus the SVD, i.e. O(1e-14)."""
    seed = (sum(map(ord, init)) * 7919 + dim * 1009 + k * 101 + c_in * 31 + c_out * 7 + n) % 2**31
    w = conv_kernel(init, c_out, c_in, k, dim=dim, sigma_w=SIGMA_W, generator=seed)
    assert w.shape == (c_out, c_in) + (k,) * dim and w.dtype == torch.float64
    m = conv_matrix(w, n)
    assert m.shape == (c_out * n**dim, c_in * n**dim)
    sv = torch.linalg.svdvals(m)
    assert sv.numel() == c_in * n**dim
    assert torch.max(torch.abs(sv - SIGMA_W)).item() < 1e-10


@pytest.mark.parametrize("dim", [1, 2])
def test_orth_symbol_is_paraunitary(dim):
    """Why the isometry holds for EVERY n ([T7], [T8]): the symbol S(z) = sum_a K(a) z^a
    satisfies S(z)^H S(z) = sigma_w^2 I on the whole unit circle (torus in 2D), not only
    at n-th roots of unity. Checked at 20 random angles per axis, k = 7, (c_in, c_out) =
    (5, 9), to 1e-12 (float64 rounding of a degree-6 polynomial in 9 x 5 matrices)."""
    k, c_in, c_out = 7, 5, 9
    w = conv_kernel("orth", c_out, c_in, k, dim=dim, sigma_w=SIGMA_W, generator=17)
    theta = torch.rand(20, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = torch.arange(k, dtype=torch.float64)
    for th in theta * 2 * math.pi:
        phase = torch.exp(1j * a * th[0])
        if dim == 1:
            sym = torch.einsum("oia,a->oi", w.to(torch.complex128), phase)
        else:
            phase2 = torch.exp(1j * a * th[1])
            sym = torch.einsum("oiab,a,b->oi", w.to(torch.complex128), phase, phase2)
        gram = sym.conj().T @ sym
        eye = SIGMA_W**2 * torch.eye(c_in, dtype=torch.complex128)
        assert torch.max(torch.abs(gram - eye)).item() < 1e-12


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("k", [3, 5, 7])
def test_orth_spreads_weight_off_centre(dim, k):
    """Algorithm 1 is not a delta kernel. The expected squared-weight share of
    the centre tap is C(k-1, r)^dim / 4^((k-1) dim / 2) <= 1/2 ([T8]); with c = 16 every
    sampled kernel keeps >= 30% of its squared weight off the centre tap."""
    r = k // 2
    for seed in range(5):
        w = conv_kernel("orth", 16, 16, k, dim=dim, sigma_w=SIGMA_W, generator=seed)
        total = (w**2).sum()
        # Parseval: sum of squared taps = ||H0||_F^2 sigma_w^2 = c_in sigma_w^2 exactly.
        assert math.isclose(total.item(), 16 * SIGMA_W**2, rel_tol=1e-12)
        centre = (w[(slice(None), slice(None)) + (r,) * dim] ** 2).sum()
        off_share = 1.0 - (centre / total).item()
        assert off_share > 0.3
        # more than one tap on each side carries weight
        tap_energy = (w**2).sum(dim=(0, 1))
        assert (tap_energy > 1e-6 * total).sum().item() >= min(3, k**dim)


def test_orth_mean_profile_is_binomial():
    """[T8]: E||K(a,b)||_F^2 / (c_in sigma_w^2) = C(k-1,a) C(k-1,b) 4^(1-k), which
    variance_vector("orth") returns. Monte Carlo over 60 kernels (c = 8, k = 3, 2D); the
    tolerance is 5 standard errors of the per-tap sample mean (a 5.7e-7 two-sided normal
    false-alarm rate per tap; the seeds are fixed)."""
    k, c, reps = 3, 8, 60
    shares = torch.stack(
        [
            (conv_kernel("orth", c, c, k, generator=1000 + s) ** 2).sum((0, 1)) / c
            for s in range(reps)
        ]
    ).numpy()
    mean = shares.mean(0)
    se = shares.std(0, ddof=1) / math.sqrt(reps)
    expected = variance_vector("orth", k, 2)
    assert np.all(np.abs(mean - expected) <= 5 * se + 1e-12)
    assert math.isclose(expected.sum(), 1.0) and expected[1, 1] == pytest.approx(0.25)


def test_delta_orth_is_centre_tap_only():
    w = conv_kernel("delta-orth", 8, 5, 3, generator=0, sigma_w=2.0)
    centre = w[:, :, 1, 1]
    torch.testing.assert_close(centre.T @ centre, 4.0 * torch.eye(5, dtype=torch.float64))
    w[:, :, 1, 1] = 0
    assert torch.count_nonzero(w) == 0


@pytest.mark.parametrize("init", GAUSSIAN_INIT_NAMES)
@pytest.mark.parametrize(("dim", "k"), [(1, 3), (1, 5), (2, 3), (2, 5)])
def test_gaussian_tap_variance_chi_square(init, dim, k):
    """Per tap beta, the n = c_out c_in weights are i.i.d. N(0, s2) with
    s2 = sigma_w^2 v_beta / c_in, so n * mean(w^2) / s2 ~ chi2(n). We accept when the
    statistic lies inside the two-sided chi2(n) interval at false-alarm rate 1e-6 per tap
    (Bonferroni over k^d taps); with n = 96 * 40 = 3840 that is about +-10% in variance.
    Zero-variance taps (gs0 off centre) must be exactly zero. Fixed seed."""
    c_out, c_in, sigma_w = 96, 40, 1.6
    w = conv_kernel(init, c_out, c_in, k, dim=dim, sigma_w=sigma_w, generator=7)
    v = variance_vector(init, k, dim)
    nsamp = c_out * c_in
    alpha = 1e-6 / k**dim
    lo, hi = stats.chi2.ppf(alpha / 2, nsamp), stats.chi2.ppf(1 - alpha / 2, nsamp)
    for beta in itertools.product(range(k), repeat=dim):
        taps = w[(slice(None), slice(None)) + beta].reshape(-1).numpy()
        s2 = sigma_w**2 * v[beta] / c_in
        if s2 == 0:
            assert np.all(taps == 0)
            continue
        stat = nsamp * np.mean(taps**2) / s2
        assert lo < stat < hi, (beta, stat / nsamp)
        # mean zero: |mean| < z * sd / sqrt(n) at the same false-alarm rate
        z = stats.norm.ppf(1 - alpha / 2)
        assert abs(taps.mean()) < z * math.sqrt(s2 / nsamp)


def test_variance_vectors_closed_forms():
    """[T3]/[T4]: shapes, sums, the GS interpolation, and the Fourier minima |lambda_m| of
    3x3 GS vectors on 8x8 quoted in [T4] (1, 2/3, 1/3, 0, 0.01906; to 5e-6 as quoted)."""
    for init, dim, k in itertools.product(INIT_NAMES, (1, 2), (1, 3, 5)):
        v = variance_vector(init, k, dim)
        assert v.shape == (k,) * dim and np.all(v >= 0)
        assert v.sum() == pytest.approx(1.0, abs=1e-15)
    assert variance_vector("gs2", 3, 2)[1, 1] == pytest.approx(0.5 + 0.5 / 9)
    assert variance_vector("gs1", 3, 1)[0] == pytest.approx(0.25 / 3)
    np.testing.assert_array_equal(variance_vector("gs4", 3), variance_vector("gaussian", 3))
    np.testing.assert_array_equal(variance_vector("gs0", 5), variance_vector("delta-orth", 5))
    mins = []
    for j in range(5):
        v = np.zeros((8, 8))
        v[np.ix_([7, 0, 1], [7, 0, 1])] = variance_vector(f"gs{j}", 3)  # offsets -1, 0, 1
        mins.append(np.abs(np.fft.fft2(v)).min())
    np.testing.assert_allclose(mins, [1, 2 / 3, 1 / 3, 0, 0.01906], atol=5e-6)


def test_haar_and_projections():
    g = torch.Generator().manual_seed(3)
    h = haar_orthogonal(7, generator=g)
    torch.testing.assert_close(h.T @ h, torch.eye(7, dtype=torch.float64), atol=1e-14, rtol=0)
    # Haar: E[h_11^2] = 1/n; 2000 draws of n=4, tolerance 5 standard errors of a Beta(1/2, 3/2)
    draws = torch.stack([haar_orthogonal(4, generator=g)[0, 0] for _ in range(2000)])
    var = 1 / 4 * 3 / 4 * 2 / (4 + 2)  # Var(h^2) for h^2 ~ Beta(1/2, 3/2)
    assert abs((draws**2).mean().item() - 0.25) < 5 * math.sqrt(var / 2000)
    # the QR sign fix makes the sign of h_11 symmetric
    assert abs((draws > 0).double().mean().item() - 0.5) < 5 * 0.5 / math.sqrt(2000)
    p = random_projection(9, generator=g)
    torch.testing.assert_close(p, p.T, atol=1e-14, rtol=0)
    torch.testing.assert_close(p @ p, p, atol=1e-13, rtol=0)


def test_same_seed_same_kernel_and_dtypes():
    a = conv_kernel("orth", 6, 4, 3, generator=11)
    b = conv_kernel("orth", 6, 4, 3, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a, b)
    c = conv_kernel("orth", 6, 4, 3, generator=11, dtype=torch.float32)
    assert c.dtype == torch.float32
    torch.testing.assert_close(c.double(), a, atol=1e-6, rtol=0)
    assert not torch.equal(a, conv_kernel("orth", 6, 4, 3, generator=12))


def test_dense_weights():
    """dense-orth: orthonormal columns (rows when wide) times sigma_w; dense-gaussian
    variance sigma_w^2 / n_in by the chi-square bound of the conv test (alpha = 1e-6)."""
    for n_out, n_in in ((30, 20), (20, 30), (25, 25)):
        w = dense_weight("dense-orth", n_out, n_in, sigma_w=1.5, generator=1)
        sv = torch.linalg.svdvals(w)
        assert sv.numel() == min(n_out, n_in)
        assert torch.max(torch.abs(sv - 1.5)).item() < 1e-12
    w = dense_weight("dense-gaussian", 200, 50, sigma_w=1.5, generator=2).numpy()
    stat = w.size * np.mean(w**2) / (1.5**2 / 50)
    assert stats.chi2.ppf(5e-7, w.size) < stat < stats.chi2.ppf(1 - 5e-7, w.size)
    assert set(DENSE_INIT_NAMES) == {"dense-gaussian", "dense-orth"}


def _module_matrix(conv: nn.Module, c_in: int, n: int, dim: int) -> torch.Tensor:
    """The module's operator by pushing the N basis images through it (independent of
    conv_matrix): column e is conv(e)."""
    big_n = c_in * n**dim
    basis = torch.eye(big_n, dtype=conv.weight.dtype).reshape((big_n, c_in) + (n,) * dim)
    with torch.no_grad():
        out = conv(basis)
    return out.reshape(big_n, -1).T


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("wrapper", [orthogonal_conv_, delta_orthogonal_])
def test_init_wrappers_make_module_isometric(dim, wrapper):
    """The wrappers fill a user's float32 nn.ConvNd in place; the module's own circular
    operator (probed with basis images) is then gain x an isometry. Tolerance 1e-5: the
    weights are rounded to float32 (relative 6e-8) and the module computes in float32."""
    cls = nn.Conv1d if dim == 1 else nn.Conv2d
    conv = cls(3, 6, 5, padding=2, padding_mode="circular", bias=False)
    assert conv.weight.requires_grad
    out = wrapper(conv.weight, gain=2.0, generator=torch.Generator().manual_seed(5))
    assert out is conv.weight and conv.weight.dtype == torch.float32
    n = 6
    m = _module_matrix(conv, 3, n, dim).double()
    sv = torch.linalg.svdvals(m)
    assert torch.max(torch.abs(sv - 2.0)).item() < 1e-5
    torch.testing.assert_close(m, conv_matrix(conv.weight.detach().double(), n))
    # the weight still trains: gradients flow after the in-place fill
    conv(torch.randn((1, 3) + (n,) * dim)).sum().backward()
    assert conv.weight.grad is not None


def test_gaussian_wrapper_variance_options():
    conv = nn.Conv2d(4, 8, 3, padding=1, padding_mode="circular", dtype=torch.float64)
    gaussian_conv_(conv.weight, gain=1.2, variance="gs0", generator=1)
    w = conv.weight.detach()
    assert torch.count_nonzero(w[:, :, 1, 1]) == 32 and torch.count_nonzero(w) == 32
    v = np.zeros((3, 3))
    v[0, 2] = 1.0
    gaussian_conv_(conv.weight, variance=v, generator=1)
    assert torch.count_nonzero(conv.weight[:, :, 0, 2]) == 32
    assert torch.count_nonzero(conv.weight) == 32
    a = gaussian_conv_(nn.Conv1d(2, 2, 3).weight, generator=4).detach().clone()
    b = conv_kernel("gaussian", 2, 2, 3, dim=1, generator=4, dtype=torch.float32)
    assert torch.equal(a, b)
    with pytest.raises(SpectraError, match="sum to 1"):
        gaussian_conv_(conv.weight, variance=np.full((3, 3), 0.2))
    with pytest.raises(SpectraError, match="shape"):
        gaussian_conv_(conv.weight, variance=np.ones(3) / 3)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: conv_kernel("orth", 4, 8, 3), "c_in <= c_out"),
        (lambda: conv_kernel("delta-orth", 4, 8, 3), "c_in <= c_out"),
        (lambda: conv_kernel("orht", 4, 4, 3), "unknown conv init 'orht'"),
        (lambda: conv_kernel("gaussian", 4, 4, 0), "kernel size k must be >= 1"),
        (lambda: conv_kernel("gaussian", 0, 4, 3), "c_out"),
        (lambda: conv_kernel("gaussian", 4, 0, 3), "c_in"),
        (lambda: conv_kernel("gaussian", 4, 4, 3, sigma_w=-1.0), "sigma_w"),
        (lambda: conv_kernel("gaussian", 4, 4, 3, sigma_w=float("nan")), "sigma_w"),
        (lambda: conv_kernel("gaussian", 4, 4, 3, dim=4), "dim must be 1, 2 or 3"),
        (lambda: conv_kernel("delta-orth", 4, 4, (3, 2), dim=3), "must have 3 entries"),
        (lambda: conv_kernel("orth", 4, 4, (3, 2)), "kernel size k must be an integer"),
        (lambda: conv_kernel("gaussian", 4, 4, 3, generator="x"), "generator"),
        (lambda: variance_vector("dense-orth", 3), "unknown conv init"),
        (lambda: dense_weight("dense-foo", 3, 3), "unknown dense init"),
        (lambda: orthogonal_conv_(nn.Conv2d(8, 4, 3).weight), "c_in <= c_out"),
        (lambda: orthogonal_conv_(nn.Conv2d(4, 4, (3, 5)).weight), "square"),
        (lambda: orthogonal_conv_(nn.Linear(4, 4).weight), "Conv1d/Conv2d/Conv3d"),
    ],
)
def test_bad_inputs_raise_one_line(call, needle):
    with pytest.raises(SpectraError) as err:
        call()
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_generators_and_modules():
    """On a GPU: a CUDA generator gives CUDA kernels whose operator is still exactly
    orthogonal (FFT route on the GPU, 1e-10); a CPU generator fills a CUDA module with
    exactly the values it gives on the CPU."""
    g = torch.Generator(device="cuda").manual_seed(0)
    w = conv_kernel("orth", 32, 16, 5, sigma_w=0.9, generator=g)
    assert w.is_cuda
    from spectra.operators import conv_singular_values

    sv = conv_singular_values(w, 12)
    assert sv.is_cuda and torch.max(torch.abs(sv - 0.9)).item() < 1e-10
    conv = nn.Conv2d(16, 32, 3, padding=1, padding_mode="circular").cuda()
    orthogonal_conv_(conv.weight, generator=torch.Generator().manual_seed(1))
    ref = conv_kernel("orth", 32, 16, 3, generator=1, dtype=torch.float32)
    assert conv.weight.is_cuda and torch.equal(conv.weight.detach().cpu(), ref)
    gaussian_conv_(conv.weight, variance="gs1", generator=torch.Generator("cuda").manual_seed(2))
    assert conv.weight.is_cuda and torch.isfinite(conv.weight).all()
