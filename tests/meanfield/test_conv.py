"""Convolutional covariance map [T17], its linearisation [T18]-[T19], and the finite-width
ensemble of Appendix F.

Independent routes: the exact 2D-quadrature map vs chi_c* (scalar c-map solve) times the
FFT eigenvalues; the ensemble of random torch CNNs vs the exact map (within s.e.).
"""

from __future__ import annotations

import numpy as np
import pytest

from spectra import meanfield as mf
from spectra.errors import SpectraError
from spectra.meanfield import (
    appendix_f_perturbation,
    covariance_map,
    ensemble_first_diagonal,
    first_diagonal_modes,
    fit_decay_rate,
    fixed_point_covariance,
    fourier_eigenvalues,
    iterate_covariance_map,
)

SW, SB, ACT, N = 1.5, 0.5, "erf", 10
V = np.array([0.025, 0.95, 0.025])


@pytest.fixture(scope="module")
def fixed():
    r = mf.mean_field(SW, SB, ACT)
    return r, fixed_point_covariance(N, r["q_star"], r["c_star"])


def test_fixed_point_is_fixed(fixed):
    _, s = fixed
    assert np.abs(covariance_map(s, V, SW, SB, ACT) - s).max() < 1e-14


def test_one_step_reproduces_chi_c_lambda(fixed):
    # [T19]: per mode, eps^1(m)/eps^0(m) = chi_c* lambda_m + O(eps). With the Appendix F
    # profile scaled by 1e-3 the O(eps) term is ~3e-5, hence the 1e-4 bound.
    r, s = fixed
    eps0 = 1e-3 * appendix_f_perturbation(N)
    e1 = first_diagonal_modes(s - covariance_map(s - eps0, V, SW, SB, ACT))
    ratio = e1 / first_diagonal_modes(eps0)
    pred = r["chi_c"] * fourier_eigenvalues(V, N)
    assert np.abs(ratio - pred).max() < 1e-4


def test_perturbation_profile():
    eps = appendix_f_perturbation()
    assert np.allclose(eps, eps.T)
    off = eps.copy()
    a = np.arange(N)
    off[a, (a + 1) % N] = 0
    off[(a + 1) % N, a] = 0
    assert np.all(off == 0)
    r = 2 / 3
    prof = -np.array([1, r, r**3, r**5, r**4, r**2, r**4, r**5, r**3, r]) / 6
    np.testing.assert_allclose(first_diagonal_modes(eps), prof, atol=1e-15)


def test_ensemble_matches_exact_map_within_standard_errors(fixed):
    # 2 layers of 96 random CNNs (32 channels x 2 samples, float64): each mode within
    # 4 s.e. of the exact map (20 modes x 3 depths; 4 s.e. keeps a false alarm < 0.5%).
    torch = pytest.importorskip("torch")
    _, s = fixed
    s0 = s - appendix_f_perturbation(N)
    exact = first_diagonal_modes(s[None] - iterate_covariance_map(s0, 2, V, SW, SB, ACT))
    nthreads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a thread pool only spins on a loaded box
    try:
        ens = ensemble_first_diagonal(
            s0,
            s,
            2,
            V,
            SW,
            SB,
            ACT,
            channels=32,
            networks=96,
            samples=2,
            generator=torch.Generator().manual_seed(0),
            chunk=48,
        )
    finally:
        torch.set_num_threads(nthreads)
    z = (ens["mean"].real - exact.real) / ens["stderr"]
    assert np.abs(z).max() < 4.0
    assert ens["per_network"].shape == (96, 3, N)


def test_fit_decay_rate_recovers_geometric_rate():
    d = np.arange(30)
    y = 0.3 * 0.87**d
    f = fit_decay_rate(d, y, np.full(30, 3e-3), snr=5, start=1)
    assert abs(f["rate"] - 0.87) < 1e-12
    # window ends at the last l with y >= 5 s.e.: 0.3 * 0.87^l >= 0.015 -> l <= 21.5
    assert (f["window_start"], f["window_end"]) == (1, 21)


def test_appendix_f_results_meet_acceptance():
    # Checks on the committed artefact (made by experiments/appendix_f.py; see
    # results/appendix_f/run.json for the exact command and sizes).
    pd = pytest.importorskip("pandas")
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "results" / "appendix_f" / "fits.csv"
    if not path.exists():
        pytest.skip("results/appendix_f not generated")
    fits = pd.read_csv(path)
    assert len(fits) == N
    assert (fits.rel_error.abs() <= 0.05).all()
    assert np.allclose(fits.predicted_rate, fits.chi_c * fits["lambda"], atol=1e-15)


def test_bad_inputs(fixed):
    _, s = fixed
    with pytest.raises(SpectraError):
        covariance_map(s, np.ones((1, 1, 1, 1)), SW, SB, ACT)
    with pytest.raises(SpectraError):
        covariance_map(s[:, :3], V, SW, SB, ACT)
    with pytest.raises(SpectraError):
        covariance_map(s, V, -1.0, SB, ACT)
