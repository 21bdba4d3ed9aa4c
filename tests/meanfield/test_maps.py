"""Mean-field theory: fixed points, slopes, critical line (the theory page [T10]-[T16], Table 1).

Independent routes: theory page's reference values (computed there with adaptive scipy.quad and
cross-checked), the erf closed forms (arcsine kernel), and self-consistency between
different solvers (critical line in q vs q-map fixed point in sigma_w, sigma_b).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from spectra import meanfield as mf
from spectra.activations import get_activation
from spectra.errors import SpectraError
from spectra.meanfield.testing import critical, maps

# the theory page's Table 1 (tanh, critical line): sigma_b -> (sigma_w*, q*, chi_q*, mu1, mu2)
TABLE1 = {
    0.05: (1.1225390048, 0.1536919358, 0.7821962372),
    0.1: (1.1934007250, 0.2733009135, 0.6781912459),
    0.5: (1.5496739125, 1.3179389990, 0.3328995277),
}

# the theory page's Table 1, off the critical line:
# (sigma_w, sigma_b) -> q*, chi_1, chi_q, c*, chi_c, xi_c
OFFLINE = [
    (1.5, 0.05, 0.7983871143, 1.1367077841, 0.5018975809, 0.0520862364, 0.9401404969, 16.200642),
    (0.9, 0.05, 0.0119749828, 0.7913726212, 0.7730678292, 1.0, 0.7913726212, 4.273754),
    (2.0, 0.5, 2.4797104611, 1.2722295538, 0.2761095836, 0.5209464355, 0.8564502925, 6.453320),
    (1.2, 0.5, 0.7399848442, 0.7476677476, 0.3429729313, 1.0, 0.7476677476, 3.438830),
    (1.5, 0.0, 0.7933540426, 1.1393232250, 0.5046777602, 0.0, 0.9430299756, 17.048203),
    (1.3, 0.3, 0.6070467919, 0.9398074287, 0.4735158699, 1.0, 0.9398074287, 16.108173),
]


@pytest.mark.parametrize("sigma_b", sorted(TABLE1))
def test_critical_sigma_w_table1(sigma_b):
    # Table 1 to 1e-7 (the table has 10 decimals; our quadrature error is
    # ~1e-14, so 1e-7 is the required bound, not a fudge) and chi_1 = 1 to 1e-9.
    sw_ref, q_ref, chiq_ref = TABLE1[sigma_b]
    sw = mf.critical_sigma_w(sigma_b)
    assert abs(sw - sw_ref) < 1e-7
    assert abs(mf.chi_1(sw, sigma_b) - 1.0) < 1e-9
    # the q-map fixed point (a different solver) lands on the table's q*
    assert abs(mf.q_star(sw, sigma_b) - q_ref) < 1e-9
    assert abs(mf.chi_q(sw, sigma_b) - chiq_ref) < 1e-9


def test_critical_sigma_w_zero_bias():
    assert mf.critical_sigma_w(0.0) == 1.0
    assert mf.q_star(1.0, 0.0) == 0.0
    assert mf.q_star(0.8, 0.0) == 0.0  # [T10]: tanh, sigma_b = 0, sigma_w <= 1


@pytest.mark.parametrize(
    "depth, sw_ref, sb_ref",
    [
        (16, 1.0561158196, 1.53908e-2),
        (256, 1.0038761803, 2.78665e-4),
        (10_000, 1.0000999800, 1.15435e-6),
    ],
)
def test_operating_point_reference(depth, sw_ref, sb_ref):
    # [T16] q* = 1/L. sigma_w to the 10 decimals given; sigma_b to its 6 significant
    # digits (relative 5e-6). L = 1e4 is where the naive difference loses ~8 digits.
    sw, sb, q = mf.operating_point(depth)
    assert q == 1.0 / depth
    assert abs(sw - sw_ref) < 1e-10
    assert abs(sb / sb_ref - 1.0) < 5e-6
    # Independent route: the q-map fixed point at (sw, sb) returns q* = 1/L, chi_1 = 1.
    assert abs(mf.q_star(sw, sb) * depth - 1.0) < 1e-9
    assert abs(mf.chi_1(sw, sb) - 1.0) < 1e-12


def test_critical_numerator_series_matches_direct_at_crossover():
    # The Taylor branch (q < 1e-3) and the direct quadrature agree where both are good:
    # at q = 5e-4 the direct difference loses ~7 digits, so 1e-8 relative.
    for name in ("tanh", "erf"):
        act = get_activation(name)
        q = 5e-4
        series = critical._crit_numerator(q, act)
        direct = q * float(maps._mu1(q, act)) - float(
            maps._expect(lambda u, a=act: a.phi(u) ** 2, q)
        )
        assert abs(series / direct - 1.0) < 1e-8


def test_critical_point_tiny_q_series_leading_term():
    # For tanh sigma_b^2 ~ (4/3) q^3 (1 + O(q)) [T16]; at q = 1e-6 the O(q) term is ~1e-5.
    sw, sb = mf.critical_point(1e-6)
    assert abs(sb**2 / (4.0 / 3.0 * 1e-18) - 1.0) < 1e-4
    assert sw > 1.0


@pytest.mark.parametrize("row", OFFLINE)
def test_off_critical_table(row):
    sw, sb, q, c1, cq, cs, cc, xic = row
    r = mf.mean_field(sw, sb)
    assert abs(r["q_star"] - q) < 1e-9
    assert abs(r["chi_1"] - c1) < 1e-9
    assert abs(r["chi_q"] - cq) < 1e-9
    assert abs(r["c_star"] - cs) < 1e-9
    assert abs(r["chi_c"] - cc) < 1e-9
    assert abs(r["xi_c"] - xic) < 1e-5  # table gives 6 decimals


def test_erf_reference_point():
    r = mf.mean_field(1.5, 0.5, "erf")
    assert abs(r["q_star"] - 1.4513261424) < 1e-9
    assert abs(r["chi_1"] - 1.0981681743) < 1e-9
    assert abs(r["c_star"] - 0.8149286123) < 1e-9
    assert abs(r["chi_c"] - 0.9229104376) < 1e-9


@pytest.mark.parametrize("q", [0.01, 0.3, 1.0, 2.5, 8.0])
def test_erf_quadrature_vs_arcsine_closed_form(q):
    # Erf closed forms (Williams 1997): E erf(u1) erf(u2) =
    # (2/pi) asin(2 q c / (1 + 2q)), E erf'(u1) erf'(u2) = (4/pi) / sqrt((1+2q)^2 - 4 q^2 c^2).
    sw, sb = 1.0, 0.0
    for c in (0.0, 0.3, 0.9, 1.0):
        got = mf.c_map(c, sw, sb, "erf", q=q) * q
        exact = 2 / math.pi * math.asin(2 * q * c / (1 + 2 * q))
        assert abs(got - exact) < 1e-10
    qmap = float(mf.q_map(q, 1.0, 0.0, "erf"))
    assert abs(qmap - 2 / math.pi * math.asin(2 * q / (1 + 2 * q))) < 1e-10
    chi1 = mf.chi_1(1.0, 0.0, "erf", q=q)
    assert abs(chi1 - 4 / math.pi / math.sqrt(1 + 4 * q)) < 1e-10


def test_chaotic_phase_never_returns_unstable_root():
    # [T16]: in the chaotic phase c = 1 is a fixed point but unstable.
    cs = mf.c_star(1.5, 0.05)
    assert cs < 0.9
    assert abs(mf.c_map(cs, 1.5, 0.05) - cs) < 1e-12
    assert abs(mf.c_map(1.0, 1.5, 0.05) - 1.0) < 1e-12  # c = 1 is a (rejected) root
    assert mf.c_star(0.8, 0.0) == 1.0  # q* = 0 -> c* = 1


def test_callable_activation_scaled_tanh():
    # phi(x) = 2 tanh(x/2) through torch autograd (not recognised as a named activation).
    # Exact scaling: q*_phi(sw, sb) = 4 q*_tanh(sw, sb/2); chi_1, c*, chi_c, chi_q equal the
    # tanh values at (sw, sb/2). Quadrature-level agreement expected (1e-11).
    torch = pytest.importorskip("torch")

    def phi(x):
        return 2 * torch.tanh(x / 2)

    assert not get_activation(phi).builtin
    for sw, sb in [(1.3, 0.6), (2.0, 1.0)]:  # ordered, chaotic
        a = mf.mean_field(sw, sb / 2, "tanh")
        with _one_thread():
            b = mf.mean_field(sw, sb, phi)
        assert abs(b["q_star"] - 4 * a["q_star"]) < 1e-11
        for k in ("c_star", "chi_1", "chi_c", "chi_q"):
            assert abs(a[k] - b[k]) < 1e-11, k
    # a named-equivalent callable is recognised and gets the exact closed forms (ReLU)
    assert get_activation(torch.relu).builtin
    assert mf.chi_1(1.2, 0.3, torch.relu) == pytest.approx(0.72, abs=1e-15)


def test_relu_and_linear_closed_forms():
    # ReLU: V(q) = sw^2 q / 2 + sb^2 -> q* = sb^2 / (1 - sw^2/2); chi_1 = sw^2/2.
    sw, sb = 1.2, 0.3
    assert abs(mf.q_star(sw, sb, "relu") - sb**2 / (1 - sw**2 / 2)) < 1e-12
    assert abs(mf.chi_1(sw, sb, "relu") - sw**2 / 2) < 1e-14
    assert abs(mf.q_star(0.7, 0.2, "linear") - 0.04 / (1 - 0.49)) < 1e-12
    # arc-cosine kernel: c* of ReLU is 1 in its ordered phase; chi_c = sw^2 (pi - acos c)/2pi
    assert mf.c_star(sw, sb, "relu") == 1.0
    assert abs(mf.c_map(0.5, sw, sb, "relu") * 0 + mf.chi_c(sw, sb, "relu") - sw**2 / 2) < 1e-14
    with pytest.raises(SpectraError, match="no finite fixed point"):
        mf.q_star(1.5, 0.1, "relu")


def test_depth_scale():
    assert mf.depth_scale(1.0) == math.inf
    assert mf.depth_scale(0.0) == 0.0
    assert abs(mf.depth_scale(math.exp(-0.1)) - 10.0) < 1e-12
    np.testing.assert_allclose(mf.depth_scale(np.array([0.0, math.exp(-1)])), [0.0, 1.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: mf.q_star(0.0, 0.1),
        lambda: mf.q_star(-1.0, 0.1),
        lambda: mf.q_star(1.0, -0.1),
        lambda: mf.q_star(float("nan"), 0.1),
        lambda: mf.q_star(1.0, float("inf")),
        lambda: mf.q_star(1.0, 0.1, "swish"),
        lambda: mf.critical_point(0.0),
        lambda: mf.critical_point(-1.0),
        lambda: mf.critical_point(float("nan")),
        lambda: mf.critical_sigma_w(-0.1),
        lambda: mf.operating_point(0),
        lambda: mf.operating_point(16, q_star=0.1, sigma_w=1.0, sigma_b=0.1),
        lambda: mf.operating_point(16, q_star=0.1, sigma_b=0.1),
        lambda: mf.operating_point(16, sigma_w=1.0),
        lambda: mf.critical_sigma_w(0.1, "relu"),
    ],
)
def test_bad_input_raises_spectra_error(call):
    with pytest.raises(SpectraError) as e:
        call()
    assert "\n" not in str(e.value)


def test_operating_point_variants():
    sw, sb, q = mf.operating_point(16, sigma_w=1.5, sigma_b=0.05)
    assert (sw, sb) == (1.5, 0.05) and abs(q - 0.7983871143) < 1e-9
    sw, sb, q = mf.operating_point(16, sigma_b=0.05)
    assert abs(sw - 1.1225390048) < 1e-9 and abs(q - 0.1536919358) < 1e-9
    sw, sb, q = mf.operating_point(16, q_star=0.25)
    assert abs(mf.chi_1(sw, sb) - 1) < 1e-12 and abs(mf.q_star(sw, sb) - 0.25) < 1e-12


# --------------------------------------------------------------------------- Monte Carlo
def _mc_summary(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


@contextlib.contextmanager
def _one_thread():
    # Tiny tensors: torch's thread pool only spins (10-50x slower on a loaded 2-core box).
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _run_fc(width, depth, nets, pairs, sw, sb, c0, seed):
    """Per-network (q_hat, c_hat, chi1_hat) of a fully connected tanh net after ``depth``."""
    with _one_thread():
        return _run_fc_impl(width, depth, nets, pairs, sw, sb, c0, seed)


def _run_fc_impl(width, depth, nets, pairs, sw, sb, c0, seed):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64
    out = []
    for _ in range(nets):
        z1 = torch.randn(pairs, width, generator=g, dtype=dt)
        z2 = torch.randn(pairs, width, generator=g, dtype=dt)
        h = torch.stack([z1, c0 * z1 + math.sqrt(1 - c0**2) * z2])  # q0 = 1, c0
        for _ in range(depth):
            w = torch.randn(width, width, generator=g, dtype=dt) * (sw / math.sqrt(width))
            b = torch.randn(width, generator=g, dtype=dt) * sb
            h = torch.tanh(h) @ w.T + b
        q_hat = float((h**2).mean())
        c_hat = float((h[0] * h[1]).mean()) / q_hat
        # chi_1: mean squared singular value of one more layer's Jacobian D W ([T12]),
        # ||D W||_F^2 / N with D = tanh'(W x + b) on the actual draw.
        w = torch.randn(width, width, generator=g, dtype=dt) * (sw / math.sqrt(width))
        b = torch.randn(width, generator=g, dtype=dt) * sb
        hn = torch.tanh(h[0]) @ w.T + b  # (pairs, width)
        d2 = (1 - torch.tanh(hn) ** 2) ** 2
        chi = float((d2 * (w**2).sum(dim=1)).mean())
        out.append((q_hat, c_hat, chi))
    return np.array(out)


def _run_conv(channels, size, depth, nets, pairs, sw, sb, c0, seed, dim=1):
    """Same for a circular CNN (kernel 3, uniform variance v = 1/3^dim) [T1]-[T3]."""
    with _one_thread():
        return _run_conv_impl(channels, size, depth, nets, pairs, sw, sb, c0, seed, dim)


def _run_conv_impl(channels, size, depth, nets, pairs, sw, sb, c0, seed, dim):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64
    k, r = 3, 1
    shape = (size,) * dim
    conv = F.conv1d if dim == 1 else F.conv2d
    pad = (r, r) * dim
    out = []
    for _ in range(nets):
        z1 = torch.randn(pairs, channels, *shape, generator=g, dtype=dt)
        z2 = torch.randn(pairs, channels, *shape, generator=g, dtype=dt)
        h = torch.cat([z1, c0 * z1 + math.sqrt(1 - c0**2) * z2])  # (2 pairs, c, *shape)
        std = sw / math.sqrt(channels * k**dim)
        for _ in range(depth + 1):
            w = torch.randn(channels, channels, *(k,) * dim, generator=g, dtype=dt) * std
            b = torch.randn(channels, generator=g, dtype=dt) * sb
            hn = conv(F.pad(torch.tanh(h), pad, mode="circular"), w, b)
            h_prev, h = h, hn
        q_hat = float((h_prev**2).mean())
        c_hat = float((h_prev[:pairs] * h_prev[pairs:]).mean()) / q_hat
        # ||D M||_F^2 / N for the last layer: row norms of the conv matrix are the
        # per-output-channel sums of squared taps ([T5]).
        rows = (w**2).sum(dim=tuple(range(1, w.dim())))
        d2 = (1 - torch.tanh(h[:pairs]) ** 2) ** 2
        chi = float((d2 * rows.view(1, -1, *(1,) * dim)).mean())
        out.append((q_hat, c_hat, chi))
    return np.array(out)


# (2.0, 0.5): chaotic, chi_c* = 0.856 so c^l converges from c0 = 0.6 (8 s.e. away from
# c* = 0.521) within 30 layers (residual 0.08 * 0.856^30 = 7e-4, well under 1 s.e.);
# chi_q* = 0.28 makes q converge from q0 = 1 (q* = 2.48) within a few layers.
MC_POINT = (2.0, 0.5)


def _check_mc(est, sw, sb, max_rel_se, depth, c0) -> None:
    """|MC mean - theory| < 3 s.e. + the deterministic convergence residual of c^l,
    |c0 - c*| chi_c*^depth (it matters only in the ordered phase, where c -> 1 makes the
    s.e. of c_hat collapse to ~1e-9; q converges faster, chi_q* < chi_c*)."""
    ref = mf.mean_field(sw, sb)
    resid = abs(c0 - ref["c_star"]) * ref["chi_c"] ** depth
    for col, key in enumerate(("q_star", "c_star", "chi_1")):
        mean, se = _mc_summary(est[:, col])
        se_tol = 3 * se + (resid if key == "c_star" else 0.0)
        # the test must have power: s.e. small against the value (or against 0.5 for c*
        # near 0, e.g. 0.052 at (1.5, 0.05))
        assert se < max_rel_se * max(abs(ref[key]), 0.5), (key, se)
        assert abs(mean - ref[key]) < se_tol, (key, mean, ref[key], se)


def test_monte_carlo_fully_connected():
    # Width 400, depth 40, 16 networks x 8 input pairs (seeded).
    # s.e. across networks; finite-width bias is O(1/256), below 3 s.e. here.
    est = _run_fc(width=400, depth=40, nets=16, pairs=8, sw=2.0, sb=0.5, c0=0.6, seed=0)
    _check_mc(est, *MC_POINT, max_rel_se=0.05, depth=40, c0=0.6)


def test_monte_carlo_circular_conv():
    # 1D circular CNN, 64 channels, n = 16, kernel 3 uniform, depth 40,
    # 16 networks x 4 input pairs (seeded); s.e. across networks.
    est = _run_conv(
        channels=64, size=16, depth=40, nets=16, pairs=4, sw=2.0, sb=0.5, c0=0.6, seed=1
    )
    _check_mc(est, *MC_POINT, max_rel_se=0.05, depth=40, c0=0.6)


@pytest.mark.slow
@pytest.mark.parametrize("sw, sb", [(2.0, 0.5), (1.2, 0.5), (1.5, 0.05)])
def test_monte_carlo_wide_slow(sw, sb):
    # Wider, more samples, three phases (ordered (1.2, 0.5); chaotic (1.5, 0.05) needs
    # depth 150: chi_c = 0.94). FC width 1000 x 24 nets; 2D conv 128 channels 8x8 x 32 nets.
    depth = 150 if sw == 1.5 else 60
    est = _run_fc(width=1000, depth=depth, nets=24, pairs=8, sw=sw, sb=sb, c0=0.6, seed=3)
    _check_mc(est, sw, sb, max_rel_se=0.03, depth=depth, c0=0.6)
    est = _run_conv(
        channels=128, size=8, depth=depth, nets=32, pairs=2, sw=sw, sb=sb, c0=0.6, seed=4, dim=2
    )
    _check_mc(est, sw, sb, max_rel_se=0.05, depth=depth, c0=0.6)
