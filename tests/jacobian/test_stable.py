"""The ``stable`` method [T24] where the log-spread exceeds float64's range (> 745 nats).

Regression: circular-conv Jacobians have (nearly) degenerate singular-value
pairs (the +-m frequencies), which the unshifted log-domain QR sweeps never separate; the
final Jacobi SVD then saw the whole spread in one float64 scaling and the bottom values
underflowed to 0 (log = -inf). Checked against two routes independent of the QR engine:
log|det J| from the per-layer FFT symbols [T6]-[T7] and phi'(h), and an mpmath product.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference import mpmath_log_singular_values

from spectra.jacobian import ConvStack, spectrum
from spectra.jacobian.testing import stable as jacobian_stable
from spectra.meanfield import operating_point
from spectra.network import BlockSpec, circular_conv, fixed_point_input, iter_block_layers
from spectra.operators import conv_symbols

pytestmark = pytest.mark.usefixtures("one_thread")


def _critical_gaussian(depth, c, n, dim, seed=0):
    """Critical Gaussian tanh net at q* = 1/L (the default operating point), layers in memory."""
    sw, sb, q = operating_point(depth)
    spec = BlockSpec(depth, c, n, 3, dim, "gaussian", sw, sb)
    layers = list(iter_block_layers(spec, generator=torch.Generator().manual_seed(seed)))
    x0 = fixed_point_input(
        c, n, dim=dim, q_star=q, generator=torch.Generator().manual_seed(seed + 1)
    )
    return ConvStack.from_layers(layers, x0, "tanh"), layers, x0


def _fft_log_det(layers, x0, act) -> float:
    """log|det J| = sum_l [sum log|phi'(h^l)| + sum_m log|det P_l(m)|] ([T6]-[T7]): the
    primal by the network's own conv, det W^l from the c x c symbols per frequency."""
    x, total = x0.to(torch.float64), 0.0
    for w, b in layers:
        w, b = w.to(torch.float64), b.to(torch.float64)
        h = circular_conv(x[None], w, b)[0]
        total += float(torch.log(act.torch_dphi(h).abs()).sum())
        total += float(torch.linalg.slogdet(conv_symbols(w, x0.shape[-1]))[1].sum())
        x = act.torch_phi(h)
    return total


def test_stable_beyond_float64_range_matches_mpmath():
    # N = 8 (1D, c = 2, n = 4), depth 1000: log s spans ~850 nats, beyond float64's
    # e^-745, and the +-m frequency pairs give singular values 0.005 nats apart. Before the
    # fix two values came back as -inf. Now: all finite, every s within 1e-6 relative of
    # 450-digit mpmath (which resolves 1e-450 relative), and sum log s = log|det J|.
    stack, layers, x0 = _critical_gaussian(1000, 2, 4, 1, seed=1)
    res = spectrum(stack, "stable")
    logs = res.log_singular_values
    assert np.all(np.isfinite(logs)), logs
    assert logs[0] - logs[-1] > 800.0
    assert res.info["final_sweeps"] >= 1 and res.info["deflation_bound"] < 1e-13
    ref = mpmath_log_singular_values(stack, dps=450)
    assert ref[0] - ref[-1] > 800.0
    rel = np.abs(np.expm1(logs - ref))
    assert np.max(rel) < 1e-6, np.max(rel)
    logdet = _fft_log_det(layers, x0, stack.activation)
    assert math.isclose(logs.sum(), logdet, rel_tol=1e-10), (logs.sum(), logdet)


def test_stable_2d_spread_of_thousands_of_nats_sums_to_log_det():
    # N = 32 (2D, c = 2, n = 4), depth 2000: spread ~1840 nats, several near-degenerate
    # pairs. Independent check at any spread: sum of log s = log|det J| from the FFT
    # symbols and phi'(h); and every value finite, sorted, with the top one of the size
    # the textbook discrete-QR diagonal gives (within O(1) nats, [T24]).
    stack, layers, x0 = _critical_gaussian(2000, 2, 4, 2)
    logs = spectrum(stack, "stable").log_singular_values
    assert np.all(np.isfinite(logs)) and np.all(np.diff(logs) <= 0)
    assert logs[0] - logs[-1] > 1500.0
    logdet = _fft_log_det(layers, x0, stack.activation)
    assert math.isclose(logs.sum(), logdet, rel_tol=1e-10), (logs.sum(), logdet)


def test_final_step_on_graded_triangle_with_known_singular_values():
    # R(V) diag(e^ell) for an orthogonal V has singular values e^ell exactly (it is the
    # R factor of V diag(e^ell)). ell spans 2000 nats in exactly degenerate pairs, which
    # QR sweeps never decouple: the final step must split the rest and keep the pairs.
    rng = np.random.default_rng(0)
    ell = np.repeat(-np.linspace(0.0, 2000.0, 12), 2)
    v, _ = np.linalg.qr(rng.normal(size=(ell.size, ell.size)))
    lt = jacobian_stable.LogTriangular(ell.size)
    lt.ell = torch.from_numpy(ell)  # C = I: the product is diag(e^ell)
    lt.absorb(jacobian_stable.qr_positive(torch.from_numpy(v))[1])
    info = {}
    got = jacobian_stable.jacobi_log_singular_values(lt, info=info)
    assert 2 <= info["largest_component"] < ell.size  # pairs kept, the rest split
    np.testing.assert_allclose(got, ell, rtol=0, atol=1e-12)


def test_final_step_refuses_rather_than_underflow(monkeypatch):
    # If the sweeps cannot split the spread, the method raises instead of returning -inf.
    ell = torch.tensor([0.0, -1000.0], dtype=torch.float64)
    lt = jacobian_stable.LogTriangular(2)
    lt.ell = ell
    lt.C = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    with pytest.raises(FloatingPointError):
        jacobian_stable.jacobi_log_singular_values(lt, max_sweeps=0)


@pytest.mark.slow
def test_bottom_pair_is_ill_conditioned_in_the_layers_for_some_draws():
    # Documents a limit of every float64 route (README, "Exactness checks"): at depth 200,
    # N = 8, critical Gaussian (the mpmath-test setting of tests/jacobian/test_spectrum.py with
    # seed 7), multiplying each float64 layer matrix by (1 + 1e-15 noise) moves the two
    # smallest log singular values of the *exact* (mpmath, 120 digits) product by
    # > 1e-3 nats in opposite directions, while the top six and the sum stay put to
    # 1e-9. So no float64 method can promise 1e-6 there; `stable` errs by ~0.09 nats.
    import mpmath

    depth = 200
    sw, sb, q = operating_point(depth)
    spec = BlockSpec(depth, 2, 4, 3, 1, "gaussian", sw, sb)  # as tests/jacobian/test_spectrum.py
    layers = list(iter_block_layers(spec, generator=torch.Generator().manual_seed(7)))
    x0 = fixed_point_input(2, 4, dim=1, q_star=q, generator=torch.Generator().manual_seed(99))
    stack = ConvStack.from_layers(layers, x0, "tanh")
    mp = mpmath.mp
    mp.dps = 120  # the product spans 186 nats = 81 decades

    def exact(noise: float, seed: int) -> np.ndarray:
        return mpmath_log_singular_values(stack, 120, noise, seed)

    ref = exact(0.0, 0)
    moved = exact(1e-15, 1) - ref
    assert np.max(np.abs(moved[:6])) < 1e-9 and abs(moved.sum()) < 1e-9
    assert abs(moved[6]) > 1e-3 and abs(moved[7]) > 1e-3
