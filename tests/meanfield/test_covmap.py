"""The covariance map [T17] in 2D and on batches, against a direct per-pair reference.

Independent routes: a per-entry loop with its own quadrature (trapezoid h = 0.04 on
[-11, 11], the 2x2 covariance factorised from the other variable) and its own tap sum
(explicit modular indices); the ReLU arc-cosine kernel against a 1D Gauss-Legendre
integral of the closed-form conditional mean; the 2D linearisation against the FFT
eigenvalues [T18] times chi_c* from the scalar c-map solve.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from spectra import meanfield as mf
from spectra.errors import SpectraError
from spectra.meanfield import (
    appendix_f_perturbation,
    covariance_map,
    first_diagonal_modes,
    fit_decay_rate,
    fixed_point_covariance,
    fourier_eigenvalues,
    iterate_covariance_map,
    pair_expectation,
)

SW, SB = 1.5, 0.5
PHI = {"erf": special.erf, "tanh": np.tanh, "linear": lambda x: x}


def _ref_pair(phi, d1, d2, s12, h=0.04, lim=11.0):
    """E phi(u1) phi(u2) by a trapezoid rule with u2 = sqrt(d2) z1 and u1 conditional."""
    z = np.arange(-lim, lim + h / 2, h)
    w = h * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    rho = s12 / math.sqrt(d1 * d2)
    u2 = math.sqrt(d2) * z[:, None]
    u1 = math.sqrt(d1) * (rho * z[:, None] + math.sqrt(max(1 - rho * rho, 0.0)) * z[None, :])
    return float(w @ (phi(u1) * phi(u2)) @ w)


def _reference_map(sigma, v, phi, batch):
    """Direct [T17] on (B, n1, n2, B, n1, n2): C entry by entry, then the tap sum."""
    s = sigma if batch else sigma[None, :, :, None]
    b, n1, n2 = s.shape[:3]
    idx = list(np.ndindex(b, n1, n2))
    c = np.empty(s.shape)
    for a in idx:
        for a2 in idx:
            e = _ref_pair(phi, s[a + a], s[a2 + a2], s[a + a2])
            c[a + a2] = SW**2 * e + SB**2
    out = np.zeros_like(c)
    r1, r2 = (v.shape[0] - 1) // 2, (v.shape[1] - 1) // 2
    for i, x1, x2 in idx:
        for j, y1, y2 in idx:
            tot = 0.0
            for t1 in range(v.shape[0]):
                for t2 in range(v.shape[1]):
                    p, q = t1 - r1, t2 - r2
                    tot += (
                        v[t1, t2]
                        * c[i, (x1 + p) % n1, (x2 + q) % n2, j, (y1 + p) % n1, (y2 + q) % n2]
                    )
            out[i, x1, x2, j, y1, y2] = tot
    return out if batch else out[0, :, :, 0]


def _random_sigma(b, n1, n2, seed):
    rng = np.random.default_rng(seed)
    m = b * n1 * n2
    a = rng.standard_normal((m, m)) / math.sqrt(m)
    scale = np.repeat(rng.uniform(0.4, 1.6, b), n1 * n2)  # unequal image norms
    s = (a @ a.T + 0.3 * np.eye(m)) * np.sqrt(scale[:, None] * scale[None, :])
    return s.reshape(b, n1, n2, b, n1, n2)


@pytest.mark.parametrize("act", ["erf", "tanh", "linear"])
@pytest.mark.parametrize("batch", [False, True])
def test_2d_map_vs_direct_per_pair_quadrature(act, batch):
    """A 3 x 4 image (and a batch of 2 images of unequal norm), a random SPD Sigma and a
    random non-symmetric 3 x 2 variance vector (even side: origin (k - 1) // 2): every
    entry to 1e-12. Both quadratures are exponentially accurate here (erf entire, tanh
    poles at |Im u| = pi/2 with Sigma_aa <= 3: error ~1e-14); erf is checked through its
    closed form, tanh through the [T13] rule."""
    v = np.random.default_rng(3).uniform(0.1, 1.0, (3, 2))
    v /= v.sum()
    s = _random_sigma(2 if batch else 1, 3, 4, seed=7)
    if not batch:
        s = s[0, :, :, 0]
    got = covariance_map(s, v, SW, SB, act)
    ref = _reference_map(s, v, PHI[act], batch)
    assert got.shape == s.shape
    assert np.abs(got - ref).max() < 1e-12


def test_relu_arc_cosine_vs_conditional_mean_integral():
    """E relu(u1) relu(u2) = int_0^inf sqrt(d1) z g(z) dN(z), g(z) = E relu(mu + s Z) =
    mu Phi(mu/s) + s phi(mu/s) (mu = sqrt(d2) rho z, s = sqrt(d2 (1 - rho^2))): a smooth
    integrand on the half line, Gauss-Legendre with 200 nodes on [0, 12], error < 1e-15."""
    x, w = special.roots_legendre(200)
    z, w = 6.0 * (x + 1.0), 6.0 * w * np.exp(-0.5 * (6.0 * (x + 1.0)) ** 2) / math.sqrt(2 * math.pi)
    for d1, d2, rho in [(1.0, 1.0, 0.3), (0.5, 2.0, -0.7), (1.3, 0.2, 0.99), (2.0, 1.0, 0.0)]:
        mu, sd = math.sqrt(d2) * rho * z, math.sqrt(d2 * (1 - rho * rho))
        g = mu * special.ndtr(mu / sd) + sd * np.exp(-0.5 * (mu / sd) ** 2) / math.sqrt(2 * math.pi)
        ref = float(w @ (math.sqrt(d1) * z * g))
        got = float(pair_expectation("relu", d1, d2, rho * math.sqrt(d1 * d2)))
        assert abs(got - ref) < 1e-14


def test_2d_one_step_reproduces_chi_c_lambda_per_mode():
    """[T18] in 2D: a small perturbation of Sigma* along the lag-(0, 1) diagonal decays in
    one step by chi_c* lambda_m per 2D mode, lambda the 2D FFT eigenvalues of v; the lag
    (1, 0) diagonal (zero at the start) gets only O(eps^2). eps = 1e-6: the linearisation
    error is O(eps), hence 1e-5."""
    n, act = 5, "erf"
    r = mf.mean_field(SW, SB, act)
    v = np.random.default_rng(0).uniform(0.2, 1.0, (3, 3))
    v /= v.sum()
    s = fixed_point_covariance(n * n, r["q_star"], r["c_star"]).reshape(n, n, n, n)
    # a profile with a sizable mean: the O(eps^2) terms all feed mode 0, so it must not be
    # small there (a zero-mean profile leaves mode 0 at ~1e-7 and its ratio off by ~1e-4)
    prof = 1.0 + 0.5 * np.random.default_rng(1).standard_normal((n, n))
    eps = np.zeros_like(s)
    for x1, x2 in np.ndindex(n, n):
        eps[x1, x2, x1, (x2 + 1) % n] = eps[x1, (x2 + 1) % n, x1, x2] = 1e-6 * prof[x1, x2]
    modes0 = first_diagonal_modes(eps, dim=2)
    modes1 = first_diagonal_modes(s - covariance_map(s - eps, v, SW, SB, act), dim=2)
    assert modes0.shape == (2, n, n) and np.abs(modes0[0]).max() == 0.0
    ratio = modes1[1] / modes0[1]
    assert np.abs(ratio - r["chi_c"] * fourier_eigenvalues(v, n)).max() < 1e-5
    assert np.abs(modes1[0]).max() < 1e-9


def test_fit_decay_rate_without_stderr_stops_at_the_noise_floor():
    """Exact maps (1D erf, n = 10, uniform 3-tap v) from Sigma* - 1e-6 eps_F over 40
    layers: every mode's fitted rate is chi_c* |lambda_m| to 1e-4 relative without a
    given stderr (the floor, ~1e-16, is estimated; linearisation error O(1e-6))."""
    n, act = 10, "erf"
    r = mf.mean_field(SW, SB, act)
    v = np.full(3, 1 / 3)
    s = fixed_point_covariance(n, r["q_star"], r["c_star"])
    sig = iterate_covariance_map(s - 1e-6 * appendix_f_perturbation(n), 40, v, SW, SB, act)
    modes = first_diagonal_modes(s[None] - sig)
    pred = r["chi_c"] * np.abs(fourier_eigenvalues(v, n))
    for m in range(n):
        f = fit_decay_rate(np.arange(41), modes[:, m])
        assert abs(f["rate"] / pred[m] - 1) < 1e-4, (m, f)
    assert fit_decay_rate(np.arange(41), modes[:, 3])["noise_floor"] < 1e-14


def test_appendix_f_perturbation_any_n():
    """n = 10 is the paper's profile; other n give a real symmetric first-diagonal
    perturbation whose DFT is the folded profile (1e-15: one FFT pair)."""
    r = 2 / 3
    paper = -np.array([1, r, r**3, r**5, r**4, r**2, r**4, r**5, r**3, r]) / 6
    np.testing.assert_allclose(first_diagonal_modes(appendix_f_perturbation(10)), paper, atol=1e-15)
    for n in (3, 7, 16):
        e = appendix_f_perturbation(n)
        assert e.shape == (n, n) and np.array_equal(e, e.T)
        prof = first_diagonal_modes(e)
        assert abs(prof[0] + 1 / 6) < 1e-15 and np.allclose(
            prof, np.conj(prof[::-1][np.arange(-1, n - 1)])
        )
        assert np.abs(prof.imag).max() < 1e-15


def test_symmetry_tolerance_and_messages():
    n = 4
    s = fixed_point_covariance(n, 0.8, 0.3)
    v = np.full(3, 1 / 3)
    tilt = np.zeros((n, n))
    tilt[0, 1] = 1e-12
    got = covariance_map(s + tilt, v, SW, SB, "tanh")
    ref = covariance_map(s + 0.5 * (tilt + tilt.T), v, SW, SB, "tanh")
    assert np.array_equal(got, ref) and np.array_equal(got, got.T)
    tilt[0, 1] = 1e-3
    with pytest.raises(SpectraError, match=r"symmetric: max \|Sigma - Sigma\^T\| = 0.001"):
        covariance_map(s + tilt, v, SW, SB, "tanh")
    with pytest.raises(SpectraError, match=r"shape \(n, n\) or \(B, n, B, n\).*got \(4, 3\)"):
        covariance_map(s[:, :3], v, SW, SB, "tanh")
    with pytest.raises(SpectraError, match="with 2 pixel axes n for a 2D variance vector, got"):
        covariance_map(s, np.full((3, 3), 1 / 9), SW, SB, "tanh")
    with pytest.raises(SpectraError, match="lag must have 2 entries"):
        first_diagonal_modes(np.zeros((3, 3, 3, 3)), dim=2, lag=(1,))
