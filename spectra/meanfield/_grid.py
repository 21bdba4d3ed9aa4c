"""The (sigma_w^2, sigma_b^2) phase diagram, vectorised (the theory page [T10]-[T16]; paper App. D).

A 300 x 300 grid takes a few seconds:

- q* [T10]: every column sigma_w^2 shares F(q) = E phi(sqrt(q) z)^2, tabulated once on a
  fine q grid; the first crossing of q - sigma_w^2 F(q) = sigma_b^2 gives a bracket and a
  linear guess, polished by exact vectorised Newton steps on the [T13] trapezoid rule.
- c* and chi_c* [T14]-[T16]: Mehler's formula. With normalised Hermite polynomials
  h_k = He_k / sqrt(k!), E phi(u1) phi(u2) = sum_k c^k gamma_k^2 and
  E phi'(u1) phi'(u2) = sum_k c^k delta_k^2, where gamma_k = E phi(sqrt(q) z) h_k(z),
  delta_k = E phi'(sqrt(q) z) h_k(z) (same trapezoid rule; one matrix product per grid).
  The c-map minus c is then a convex power series in c on [0, 1]; Newton from c = 0 finds
  the stable root c* < 1 in the chaotic phase. The truncation error is bounded by the
  Parseval tail F(q) - sum_k gamma_k^2, reported in the ``mehler_tail`` column.

Tests compare every column against the scalar solvers of :mod:`spectra.meanfield`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..activations import get_activation
from ..errors import SpectraError, check_real
from ..quadrature import gauss_nodes

_K = 240  # Hermite terms in the Mehler series
_CHUNK = 4096  # grid points per quadrature block


def _hermite_table(k_max: int) -> np.ndarray:
    """h_k(z_i) = He_k(z_i)/sqrt(k!) at the [T13] nodes, shape (481, k_max + 1)."""
    z, _ = gauss_nodes()
    h = np.empty((z.size, k_max + 1))
    h[:, 0] = 1.0
    h[:, 1] = z
    for k in range(1, k_max):
        h[:, k + 1] = (z * h[:, k] - np.sqrt(k) * h[:, k - 1]) / np.sqrt(k + 1)
    return h


def _phi_derivs(act, u: np.ndarray, second: bool = True):
    """phi, phi', phi'' at u (tanh: from one tanh evaluation)."""
    if act.builtin and act.name == "tanh":
        t = np.tanh(u)
        s = 1.0 - t * t
        return t, s, (-2.0 * t * s if second else None)
    return act.phi(u), act.dphi(u), (act.d2phi(u) if second else None)


def _blocks(n: int):
    for s in range(0, n, _CHUNK):
        yield slice(s, min(n, s + _CHUNK))


def critical_line(q, activation="tanh"):
    """[T16] The critical line chi_1 = 1 parametrised by q* (vectorised).

    ``q``: 1D array of q* > 0. Returns a DataFrame with ``q_star, sigma_w2, sigma_b2,
    sigma_w, sigma_b``; points where sigma_b^2 < 0 (no critical point) are dropped.
    """
    import pandas as pd

    from ._critical import critical_point

    rows = []
    for qq in np.asarray(q, dtype=np.float64).reshape(-1):
        try:
            sw, sb = critical_point(float(qq), activation)
        except SpectraError:
            continue
        rows.append(
            {"q_star": qq, "sigma_w2": sw**2, "sigma_b2": sb**2, "sigma_w": sw, "sigma_b": sb}
        )
    return pd.DataFrame(rows, columns=["q_star", "sigma_w2", "sigma_b2", "sigma_w", "sigma_b"])


def _solve_q(a: np.ndarray, b: np.ndarray, act, phi0: float) -> np.ndarray:
    """q* on the outer grid a (sigma_w^2) x b (sigma_b^2), flattened; NaN if divergent."""
    from ._maps import _expect

    z, w = gauss_nodes()
    table = np.logspace(-10, 6, 3201)
    f_tab = _expect(lambda u: act.phi(u) ** 2, table)  # F(T), one tabulation for all
    sw2 = np.repeat(a, b.size)
    sb2 = np.tile(b, a.size)
    q = np.full(sw2.shape, np.nan)
    zero = (sb2 == 0.0) & (phi0 == 0.0)
    for i, aw in enumerate(a):
        # The stable q* is the first T with T - aw F(T) >= sb2 (sigma_b = 0, phi(0) = 0:
        # the first T with 1 - aw F(T)/T >= 0, else q* = 0). A running max makes the
        # left-hand side monotone so searchsorted finds that first crossing.
        h = np.maximum.accumulate(table - aw * f_tab)
        cols = slice(i * b.size, (i + 1) * b.size)
        j = np.searchsorted(h, b, side="left")
        ok = (j > 0) & (j < table.size)
        jj = j[ok]
        t0, t1, h0, h1 = table[jj - 1], table[jj], h[jj - 1], h[jj]
        est = np.where(h1 > h0, t0 + (t1 - t0) * (b[ok] - h0) / np.where(h1 > h0, h1 - h0, 1), t1)
        qi = np.full(b.shape, np.nan)
        qi[ok] = est
        qi[(j == 0) & (b > 0)] = b[(j == 0) & (b > 0)]  # below the table: Newton from sb2
        if phi0 == 0.0:
            r = np.maximum.accumulate(1.0 - aw * f_tab / table)
            k = int(np.searchsorted(r, 0.0, side="left"))
            zb = b == 0.0
            qi[zb] = 0.0 if k == 0 else (np.nan if k >= table.size else table[k])
        q[cols] = qi
    # Newton polish on the exact quadrature: g(q) = sw2 F(q) + sb2 - q, g' = sw2 F'(q) - 1.
    live = np.isfinite(q) & (q > 0)
    idx = np.nonzero(live)[0]
    for _ in range(3):  # the table guess is good to ~1e-4: 3 quadratic steps reach ~1e-16
        for s in _blocks(idx.size):
            j = idx[s]
            p, dp, d2 = _phi_derivs(act, np.sqrt(q[j])[:, None] * z)
            f = (p * p) @ w
            fp = (dp * dp + p * d2) @ w
            g = sw2[j] * f + sb2[j] - q[j]
            if zero[j].any():  # divide out the trivial root 0: g/q and (g/q)'
                zz = zero[j]
                gq = g[zz] / q[j][zz]
                dgq = (sw2[j][zz] * fp[zz] - 1.0) / q[j][zz] - gq / q[j][zz]
                # a flat g/q (a linear net at sigma_w^2 = 1: every q is fixed) takes no step
                step_z = np.where(dgq != 0.0, gq / np.where(dgq != 0.0, dgq, 1.0), 0.0)
            gp = sw2[j] * fp - 1.0
            step = np.where(gp != 0.0, g / np.where(gp != 0.0, gp, 1.0), 0.0)
            if zero[j].any():
                step[zz] = step_z
            new = q[j] - step
            q[j] = np.clip(new, 0.5 * q[j], 2.0 * q[j])
    return q


def phase_grid(
    sigma_w2,
    sigma_b2,
    activation="tanh",
    *,
    progress: Callable[[int], None] | None = None,
):
    """Mean-field quantities on the outer grid of ``sigma_w2`` x ``sigma_b2`` (1D arrays).

    Returns a DataFrame with one row per grid point (sigma_b2 fastest) and columns
    ``activation, sigma_w2, sigma_b2, sigma_w, sigma_b, q_star, chi_1, c_star, chi_c,
    xi_c, phase`` (``ordered`` if chi_1 <= 1 else ``chaotic``; ``divergent`` where the
    q-map has no finite fixed point, with NaN values) and ``mehler_tail`` (Mehler truncation
    bound on the c-map). ``progress`` is called with 1 after each of the 3 stages.
    """
    import pandas as pd

    from ._maps import depth_scale

    act = get_activation(activation)
    a = np.asarray(sigma_w2, dtype=np.float64).reshape(-1)
    b = np.asarray(sigma_b2, dtype=np.float64).reshape(-1)
    for name, arr in (("sigma_w2", a), ("sigma_b2", b)):
        if arr.size == 0:
            raise SpectraError(f"{name} grid is empty")
        for x in (arr.min(), arr.max()):
            check_real(name, x)
    if a.min() <= 0 or b.min() < 0:
        raise SpectraError("sigma_w^2 must be > 0 and sigma_b^2 >= 0 on the phase grid")
    tick = progress or (lambda n=1: None)
    sw2 = np.repeat(a, b.size)
    sb2 = np.tile(b, a.size)
    phi0 = float(act.phi(np.zeros(1))[0])

    q = _solve_q(a, b, act, phi0)
    tick(1)

    z, w = gauss_nodes()
    herm = _hermite_table(_K) * w[:, None]  # weights folded in
    chi1 = np.full(q.shape, np.nan)
    cstar = np.full(q.shape, np.nan)
    chic = np.full(q.shape, np.nan)
    tail = np.zeros(q.shape)
    fin = np.isfinite(q)
    chi1[fin & (q == 0)] = sw2[fin & (q == 0)] * float(act.dphi(np.zeros(1))[0]) ** 2
    cstar[fin & (q == 0)] = 1.0
    idx = np.nonzero(fin & (q > 0))[0]
    for s in _blocks(idx.size):
        j = idx[s]
        p, dp, _ = _phi_derivs(act, np.sqrt(q[j])[:, None] * z, second=False)
        chi1[j] = sw2[j] * ((dp * dp) @ w)
        cstar[j] = 1.0
        chaos = chi1[j] > 1.0 + 1e-12 * (sb2[j] > 0)  # on the critical line c* = 1
        if not chaos.any():
            continue
        jc = j[chaos]
        gam2 = (p[chaos] @ herm) ** 2  # (m, K+1)
        del2 = (dp[chaos] @ herm) ** 2
        tail[jc] = np.maximum(((p[chaos] ** 2) @ w) - gam2.sum(axis=1), 0.0)
        cstar[jc] = _mehler_root(gam2, sw2[jc], sb2[jc], q[jc], act.odd)
        chic[jc] = sw2[jc] * _polyval_rows(del2, cstar[jc])
    tick(1)
    ordered = fin & (chi1 <= 1.0 + 1e-12 * (sb2 > 0))
    chic[ordered] = chi1[ordered]
    xi = np.asarray(depth_scale(np.where(np.isfinite(chic), chic, 0.5)))
    xi = np.where(np.isfinite(chic), xi, np.nan)
    phase = np.where(
        ~fin, "divergent", np.where(chi1 <= 1.0 + 1e-12 * (sb2 > 0), "ordered", "chaotic")
    )
    tick(1)
    return pd.DataFrame(
        {
            "activation": act.name,
            "sigma_w2": sw2,
            "sigma_b2": sb2,
            "sigma_w": np.sqrt(sw2),
            "sigma_b": np.sqrt(sb2),
            "q_star": q,
            "chi_1": chi1,
            "c_star": cstar,
            "chi_c": chic,
            "xi_c": xi,
            "phase": phase,
            "mehler_tail": tail,
        }
    )


def _polyval_rows(coef: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_k coef[i, k] c[i]^k for each row i (Horner)."""
    out = np.zeros(c.shape)
    for k in range(coef.shape[1] - 1, -1, -1):
        out = out * c + coef[:, k]
    return out


def _dpolyval_rows(coef: np.ndarray, c: np.ndarray) -> np.ndarray:
    ks = np.arange(1, coef.shape[1])
    return _polyval_rows(coef[:, 1:] * ks, c)


def _mehler_root(gam2, sw2, sb2, q, odd: bool) -> np.ndarray:
    """Stable root c* < 1 of (sw2 sum_k gam2_k c^k + sb2)/q = c, vectorised [T16]."""
    coef = gam2 * (sw2 / q)[:, None]
    coef[:, 0] += sb2 / q
    coef[:, 1] -= 1.0  # P(c) = cmap(c) - c: convex on [0, 1], P(0) >= 0 here

    c = np.zeros(q.shape)
    p0 = coef[:, 0]
    neg = p0 < 0
    if odd:
        c[sb2 == 0] = 0.0
    # Newton from 0 increases monotonically to the first root for convex P with P(0) >= 0.
    active = np.nonzero(~neg)[0]
    for _ in range(200):
        if active.size == 0:
            break
        ca, co = c[active], coef[active]
        pv = _polyval_rows(co, ca)
        dv = _dpolyval_rows(co, ca)
        step = np.where(dv < 0, pv / np.where(dv < 0, dv, -1.0), 0.0)
        c[active] = np.minimum(ca - step, 1.0 - 1e-6)
        active = active[np.abs(step) > 1e-15 * np.maximum(1.0, np.abs(ca))]
    if neg.any():  # cmap(0) < 0 (non-odd phi): bisection on [-1, 0]
        lo, hi = -np.ones(neg.sum()), np.zeros(neg.sum())
        cn = coef[neg]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            pm = _polyval_rows(cn, mid)
            lo, hi = np.where(pm > 0, mid, lo), np.where(pm > 0, hi, mid)
        c[neg] = 0.5 * (lo + hi)
    return c
