"""The named activations' derivatives, against independent routes."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np

from spectra.activations import get_activation


def test_tanh_derivatives_vs_mpmath_and_no_overflow_far_out():
    """sech^2 and -2 tanh sech^2 in their overflow-free form, against mpmath at 30 digits
    (rtol 1e-13: a few ulps of the exp/divide chain); at |x| up to 1e4 (q* ~ 1e6 puts
    quadrature nodes there) the values underflow to 0 without a warning."""
    act = get_activation("tanh")
    x = np.array([-30.0, -3.1, -0.2, 0.0, 0.7, 5.0, 19.0])
    mpmath.mp.dps = 30
    ref1 = np.array([float(mpmath.sech(t) ** 2) for t in x])
    ref2 = np.array([float(-2 * mpmath.tanh(t) * mpmath.sech(t) ** 2) for t in x])
    np.testing.assert_allclose(act.dphi(x), ref1, rtol=1e-13, atol=0)
    np.testing.assert_allclose(act.d2phi(x), ref2, rtol=1e-13, atol=1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far = np.array([-1e4, -800.0, 800.0, 1e4])
        assert np.all(act.dphi(far) == 0) and np.all(act.d2phi(far) == 0)
