"""The radial mode of the input-output Jacobian [T36]: the direction of the signal itself.

A perturbation of x^0 along the signal changes the length q of every later layer, so it
follows the q-map's slope V'(q^l) [T11], not chi_1 [T12]: with p^l = E phi(sqrt(q^l) z)^2,
p^L = P(V(... V(q^0))) as a function of p^0, the gradient of |x^L|^2 / N is
(2 / N) J^T x^L = (dp^L / dp^0)(2 / N) x^0, so J^T sends the unit vector x^L / |x^L| to
s_r x^0 / |x^0| with

    s_r = prod_{l=1..L} V'(q^l) * sqrt(p^0 / p^L),    q^{l+1} = V(q^l).

At the fixed point (q^0 = q*) this is chi_q*^L; at q* = 1/L, chi_q* ~ 1 - 2 q*, so
s_r ~ e^-2. The signal direction is not exactly invariant: J_l^T sends x^{l+1} to
W^T (phi phi')(h^{l+1}), whose part along x^l is chi_q and whose full length is
T_l = sigma_w sqrt(E[(phi phi')^2] / p^l) -- the rest leaks into the bulk (from the
nonlinearity and from the bias). Each layer's leak lowers the smallest singular value by
the cosine cos(theta_l) = chi_q / T_l, which gives the prediction used by default

    log s_r = sum_l [log V'(q^l) + log cos(theta_l)] + (log p^0 - log p^L) / 2;

measured against the engine it is within 0.01 nats of the smallest singular value at q* =
1/L for L >= 256, 0.02 at L = 64, and 0.2 nats (of 19) at sigma_b = 0.05, where the
linear prediction is off by 3.7. There is one such mode per set of units that the kernel
mixes: one for a kernel that mixes pixels, one per pixel (n^dim) for a delta kernel [T36].
"""

from __future__ import annotations

import math

from ..activations import get_activation
from ._maps import _check_ws, _expect


def radial_log_singular_value(
    depth: int,
    sigma_w: float,
    sigma_b: float,
    activation="tanh",
    *,
    q0: float,
    leak: bool = True,
) -> float:
    """log s_r of the radial mode [T36] of a depth-``depth`` net whose input h^0 has mean
    square ``q0`` (natural log): sum_{l=1..L} log V'(q^l) + (log p^0 - log p^L) / 2 along
    the mean-field trajectory q^{l+1} = V(q^l) from q^0 = q0. float64, O(depth) quadratures.
    ``leak=False`` leaves out the per-layer cosine (the linear, q* -> 0 prediction).
    Returns NaN where V'(q^l) <= 0 or q0 <= 0 (no radial mode: q* = 0 or a linear net)."""
    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = get_activation(activation)
    if not (q0 > 0 and math.isfinite(q0)):
        return math.nan
    sw2, sb2 = sigma_w**2, sigma_b**2

    def p_of(q):
        return float(_expect(lambda u: act.phi(u) ** 2, q))

    def slope(q):  # V'(q) = sigma_w^2 E[phi'^2 + phi phi''] (Stein) [T11]
        return sw2 * float(_expect(lambda u: act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u), q))

    def leak_sq(q):  # T_l^2 p^l / sigma_w^2 = E[(phi phi')^2] at q^{l+1}
        return float(_expect(lambda u: (act.phi(u) * act.dphi(u)) ** 2, q))

    p0 = p = p_of(q0)
    total = 0.0
    for _ in range(int(depth)):
        q = sw2 * p + sb2
        v = slope(q)
        if not v > 0:
            return math.nan
        total += math.log(v)
        if leak:  # log cos(theta_l) = log(V'(q) / T_l), T_l^2 = sigma_w^2 E[(phi phi')^2] / p^l
            total += min(0.0, math.log(v) - 0.5 * math.log(sw2 * leak_sq(q) / p))
        p = p_of(q)
    return float(total + 0.5 * (math.log(p0) - math.log(p)))


def radial_mode_count(init: str, size: int, dim: int) -> int:
    """How many radial modes J has [T36]: n^dim for a kernel that does not mix pixels
    (``delta-orth``: J is block-diagonal over the pixels, one c x c block each), else 1."""
    return int(size) ** int(dim) if init == "delta-orth" else 1
