"""Fourier eigenvalues of variance vectors and mode depth scales ([T4], [T18], [T19]).

Independent routes: closed-form DFTs (delta: 1; uniform: (1 + 2 cos theta)/3 per axis),
a direct double sum over taps and modes (vs the FFT implementation), and theory page's values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectra import meanfield as mf
from spectra.errors import SpectraError
from spectra.meanfield import (
    fourier_eigenvalues,
    mode_depth_scales,
    modes_frame,
    sorted_singular_values,
)


def _direct(v, n):
    """lambda_m = sum_beta v_beta exp(2 pi i <m, beta> / n) by explicit summation."""
    v = np.atleast_1d(v)
    r = v.shape[0] // 2
    out = np.zeros((n,) * v.ndim, dtype=complex)
    for m in np.ndindex(out.shape):
        for b in np.ndindex(v.shape):
            beta = np.array(b) - r
            out[m] += v[b] * np.exp(2j * math.pi * np.dot(m, beta) / n)
    return out


def _gs(j, k=3, dim=2):
    """Test-only GS vectors built from [T4] (independent of spectra.kernels)."""
    delta = np.zeros((k,) * dim)
    delta[(k // 2,) * dim] = 1.0
    t = j / 4
    return (1 - t) * delta + t * np.full((k,) * dim, 1.0 / k**dim)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 8, 10])
def test_delta_is_exactly_one(dim, n):
    lam = fourier_eigenvalues(_gs(0, 3, dim), n)
    assert lam.shape == (n,) * dim
    assert np.all(lam == 1.0)  # exact, not approximately


@pytest.mark.parametrize("n", [3, 8, 10, 16])
def test_uniform_matches_analytic_dft(n):
    theta = 2 * math.pi * np.arange(n) / n
    one = (1 + 2 * np.cos(theta)) / 3
    np.testing.assert_allclose(fourier_eigenvalues(np.full(3, 1 / 3), n), one, atol=1e-15)
    two = np.outer(one, one)  # [T18]: (1 + 2cos t1)(1 + 2cos t2)/9 in [-1/3, 1]
    np.testing.assert_allclose(fourier_eigenvalues(np.full((3, 3), 1 / 9), n), two, atol=1e-15)
    assert two.max() == pytest.approx(1.0) and two.min() >= -1 / 3 - 1e-15


def test_fft_matches_direct_sum_including_aliasing_and_asymmetry():
    rng = np.random.default_rng(0)
    for shape, n in [((5,), 3), ((5,), 12), ((3, 3), 2), ((5, 5), 7)]:
        v = rng.random(shape)
        v /= v.sum()
        lam = fourier_eigenvalues(v, n)
        assert np.iscomplexobj(lam)  # asymmetric v: complex eigenvalues
        np.testing.assert_allclose(lam, _direct(v, n), atol=1e-14)
        assert abs(lam.flat[0] - 1) < 1e-15 and np.abs(lam).max() <= 1 + 1e-15


def test_gs_family_matches_theory_and_fig4b_ordering():
    # [T4]: min |lambda| 1, 2/3, 1/3, 0, 0.01906; mean 1, .7778, .5556, .3333, .2359 (8x8).
    mins = [1, 2 / 3, 1 / 3, 0, 0.01906]
    means = [1, 0.7778, 0.5556, 0.3333, 0.2359]
    svs = [sorted_singular_values(_gs(j), 8) for j in range(5)]
    for j, s in enumerate(svs):
        assert s.shape == (64,) and np.all(np.diff(s) <= 0)
        assert abs(s.min() - mins[j]) < 1e-5 and abs(s.mean() - means[j]) < 5e-5
    # Fig 4(b): GS0 -> GS4 ever more concentrated near 0: at every rank GS_{j+1} <= GS_j,
    # except the tail of GS4, which rises above GS3's exact zero (0.019 > 0, [T4]).
    for j in range(3):
        assert np.all(svs[j + 1] <= svs[j] + 1e-15)
    assert np.all(svs[4][:-4] <= svs[3][:-4] + 1e-15)
    assert np.sum(svs[4]) < np.sum(svs[3])


def test_kernels_variance_vector_agrees_with_t4_helper():
    kernels = pytest.importorskip("spectra.kernels")
    for j in range(5):
        for dim in (1, 2):
            np.testing.assert_array_equal(kernels.variance_vector(f"gs{j}", 3, dim), _gs(j, 3, dim))


def test_mode_depth_scales_example_t19():
    # [T19]: (1.3, 0.3), uniform 3x3 on 8x8: 16.108 (m=0), 3.580 (x4), ..., min 0.2486.
    chi = mf.chi_c(1.3, 0.3)
    xi = mode_depth_scales(np.full((3, 3), 1 / 9), 8, chi)
    assert abs(xi[0, 0] - 16.108173) < 1e-5
    s = np.sort(xi.ravel())[::-1]
    np.testing.assert_allclose(s[1:5], 3.580, atol=5e-4)
    assert abs(s[-1] - 0.2486) < 5e-5
    # delta kernel: every mode has xi_c; lambda = 0 gives xi = 0 (GS3 at m = (4, 0))
    assert np.all(mode_depth_scales(_gs(0), 8, chi) == mf.depth_scale(chi))
    assert mode_depth_scales(_gs(3), 8, chi).min() == 0.0


def test_modes_frame_columns_and_ranks():
    df = modes_frame({"gs2": _gs(2), "gs4": _gs(4)}, 8, chi_c=0.9)
    assert len(df) == 128
    assert {"name", "mode", "m1", "m2", "lambda", "abs_lambda", "rank", "xi"} <= set(df.columns)
    d = df[df.name == "gs4"].sort_values("rank")
    assert np.all(np.diff(d["abs_lambda"].to_numpy()) <= 0)


@pytest.mark.parametrize(
    "v, n",
    [
        (np.ones(2) / 2, 8),  # even length
        (np.ones((3, 5)) / 15, 8),  # not square
        (np.array([0.5, 0.6, -0.1]), 8),  # negative
        (np.array([0.2, 0.2, 0.2]), 8),  # does not sum to 1
        (np.ones(3) / 3, 0),  # bad n
    ],
)
def test_bad_vectors(v, n):
    with pytest.raises(SpectraError):
        fourier_eigenvalues(v, n)
