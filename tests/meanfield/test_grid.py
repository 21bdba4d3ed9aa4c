"""Vectorised phase grid and critical line vs the scalar solvers (the theory page [T10]-[T16]).

The grid uses a tabulated first guess + Newton for q* and Mehler's series for the c-map;
the scalar solvers use brentq on the direct [T13] quadrature: independent routes.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from spectra import meanfield as mf
from spectra.errors import SpectraError
from spectra.meanfield import critical_line, phase_grid


@pytest.fixture(scope="module")
def grid():
    a = np.linspace(0.5, 4.0, 12)
    b = np.array([0.0, 0.0025, 0.09, 0.25, 0.5])
    return phase_grid(a, b)


def test_grid_matches_scalar_solvers(grid):
    # Tolerance 1e-10: both routes are ~1e-14 accurate; Mehler's truncation tail is
    # reported and checked below.
    assert len(grid) == 60 and set(grid.phase) == {"ordered", "chaotic"}
    for _, r in grid.iloc[::3].iterrows():
        ref = mf.mean_field(r.sigma_w, r.sigma_b)
        for k in ("q_star", "chi_1", "c_star", "chi_c"):
            assert abs(r[k] - ref[k]) < 1e-10, (k, r.sigma_w2, r.sigma_b2)
    assert grid.mehler_tail.max() < 1e-10


def test_phase_boundary_is_the_critical_line(grid):
    # chaotic iff sigma_w exceeds critical_sigma_w(sigma_b)
    for _, r in grid.iterrows():
        crit = mf.critical_sigma_w(r.sigma_b)
        assert (r.phase == "chaotic") == (r.sigma_w > crit)
        if r.sigma_b == 0 and r.sigma_w <= 1:
            assert r.q_star == 0.0 and r.c_star == 1.0


def test_critical_line_round_trip():
    line = critical_line(np.array([1e-3, 0.1, 0.5, 2.0]))
    for _, r in line.iterrows():
        assert abs(mf.chi_1(r.sigma_w, r.sigma_b) - 1) < 1e-12
        assert abs(mf.q_star(r.sigma_w, r.sigma_b) / r.q_star - 1) < 1e-9


def test_relu_grid_marks_divergence():
    g = phase_grid(np.array([1.0, 3.0]), np.array([0.1]), "relu")
    assert list(g.phase) == ["ordered", "divergent"]
    assert abs(g.q_star[0] - 0.1 / (1 - 0.5)) < 1e-12 and np.isnan(g.q_star[1])


def test_grid_is_fast():
    # 100 x 100 (1/9 of the CLI default); the 300 x 300 timing is in the README.
    t = time.process_time()
    phase_grid(np.linspace(0.5, 4, 100), np.linspace(0, 0.5, 100))
    assert time.process_time() - t < 10.0  # ~1 s CPU unloaded; generous for shared CI


def test_bad_grid():
    with pytest.raises(SpectraError):
        phase_grid(np.array([0.0, 1.0]), np.array([0.1]))
    with pytest.raises(SpectraError):
        phase_grid(np.array([1.0]), np.array([np.nan]))


def test_linear_grid_through_the_marginal_point_raises_no_warning():
    # sigma_w^2 = 1, sigma_b^2 = 0 for a linear net: every q is a fixed point, so the Newton
    # polish sees g/q = 0 with a zero slope. It must take no step (no 0/0 warning) and give
    # finite values, with the sigma_b > 0 points of that column divergent (q grows by sb2).
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = phase_grid(np.linspace(0.1, 1.0, 4), np.linspace(0.0, 1.0, 4), "linear")
    edge = df[df["sigma_w2"] == 1.0]
    assert np.isfinite(edge["q_star"].iloc[0])
    assert (edge["phase"].iloc[1:] == "divergent").all()
