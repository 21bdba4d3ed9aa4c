"""The Fig S4 study library (spectra.studies): laws [T32]/[T33] against
quadrature and each other, the KS distance against scipy, and the study's content."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import trapezoid

from spectra.errors import SpectraError
from spectra.rmt import quarter_circle_cdf, quarter_circle_density
from spectra.studies import (
    KS_COLUMNS,
    SV_COLUMNS,
    quarter_circle_ks,
    weight_ks,
    weight_singular_values,
    weight_theory,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_quarter_circle_ks_matches_scipy_on_s():
    """quarter_circle_ks works on s^2 through spectra.rmt; scipy's kstest on s itself with
    the quarter-circle CDF is an independent route (KS is invariant under s -> s^2).
    Agreement to 1e-12 (exp/log round trip of s^2 moves values by ~1 ulp)."""
    rng = np.random.default_rng(0)
    x = 2 * rng.uniform(0, 1, 300) ** 1.3
    ref = stats.kstest(x, quarter_circle_cdf).statistic
    assert abs(quarter_circle_ks(x) - ref) < 1e-12
    # quarter-circle samples (inverse CDF by bisection) give a small distance
    u = (np.arange(2000) + 0.5) / 2000
    lo, hi = np.zeros_like(u), np.full_like(u, 2.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        below = quarter_circle_cdf(mid) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    assert quarter_circle_ks(lo) < 1e-3


def test_theory_frame_laws():
    """theory.csv: the quarter circle integrates to 1 on its grid (trapezoid, error ~1e-3
    from the sqrt edge), and the MP density of s^2 is its push-forward
    rho_qc(sqrt x) / (2 sqrt x) ([T32], [T33]; exact identity, 1e-13)."""
    th = weight_theory()
    qc = th[th["law"] == "quarter-circle"]
    assert abs(trapezoid(qc["density"], qc["x"]) - 1) < 2e-3
    mp = th[th["law"] == "marchenko-pastur"]
    x = mp["x"].to_numpy()[:-1]
    expected = quarter_circle_density(np.sqrt(x)) / (2 * np.sqrt(x))
    np.testing.assert_allclose(mp["density"].to_numpy()[:-1], expected, rtol=1e-13)


def test_study_columns_counts_and_seed_stability():
    sv = weight_singular_values([2, 3], dim=1, size=7, kernel=3, seeds=[4, 5])
    # the contract of DESIGN.md, spelled out once here
    contract = "kind dim size kernel channels seed index singular_value".split()
    assert SV_COLUMNS == contract and list(sv.columns) == contract
    assert KS_COLUMNS == "kind dim size kernel channels seed n ks".split()
    counts = sv.groupby(["kind", "channels", "seed"]).size()
    for (_kind, c, _seed), n in counts.items():
        assert n == 7 * c  # N = c n singular values per matrix, conv and dense alike
    # a matrix depends only on (seed, channels, kind), not on the rest of the run
    alone = weight_singular_values([3], dim=1, size=7, kernel=3, seeds=[5])
    both = sv[(sv["channels"] == 3) & (sv["seed"] == 5)].reset_index(drop=True)
    np.testing.assert_array_equal(alone["singular_value"], both["singular_value"])
    th = weight_theory()
    assert set(th["law"]) == {"quarter-circle", "marchenko-pastur"}


@pytest.fixture(scope="module")
def fig_s4_small():
    """The Fig S4 setup (1D, n = 26, k = 5) at c = 2, 8, 32 with two fixed seeds."""
    return weight_singular_values([2, 8, 32], dim=1, size=26, kernel=5, seeds=[0, 1])


def test_scales_match_the_paper_setup(fig_s4_small):
    """Second moment of the singular values: E s^2 = trace(M^T M)/N = 1 for both kinds
    (entry variance 1/(c k) with c k nonzero entries per row; 1/N with N per row).
    At c = 32 (N = 832) the sample mean of s^2 has sd ~ sqrt(2/(N k)) ~ 0.02 for conv
    and ~ sqrt(2)/N for dense; we allow 0.08 (> 3 sd)."""
    sv = fig_s4_small[fig_s4_small["channels"] == 32]
    for (_kind, _seed), grp in sv.groupby(["kind", "seed"]):
        assert abs(np.mean(grp["singular_value"] ** 2) - 1) < 0.08


def test_ks_falls_as_channels_grow(fig_s4_small):
    """Library side (fixed seeds): KS distance to the quarter circle falls from
    c = 2 to 8 to 32 for both conv and dense; at c = 32 it is small (< 0.06 conv,
    < 0.03 dense; an i.i.d. sample of the same size would already give ~0.03)."""
    ks = weight_ks(fig_s4_small).groupby(["kind", "channels"])["ks"].mean()
    for kind in ("conv", "dense"):
        assert ks[kind, 2] > ks[kind, 8] > ks[kind, 32]
    assert ks["conv", 32] < 0.06 and ks["dense", 32] < 0.03


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"dim": 3}, "dim"),
        ({"size": 0}, "size"),
        ({"kernel": 4}, "odd"),
        ({"seeds": []}, "seed"),
        ({"dim": 2, "size": 100}, "exceeds"),
    ],
)
def test_study_validation(kwargs, needle):
    with pytest.raises(SpectraError, match=needle):
        weight_singular_values([2, 4], **kwargs)
