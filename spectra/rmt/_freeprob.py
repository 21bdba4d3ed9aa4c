"""Free-probability solver for the spectrum of J Jᵀ of a deep network (the theory page, pitfalls).

This is the numerical engine behind :mod:`spectra.rmt`; use that module's public
functions. Given the law of d = φ'(h)², h ~ N(0, q*) [T28] (discretised by Gauss–Legendre
in |z| with nodes at ±r, so odd and non-even φ' alike are exact), the weight law
(``kappa`` = 0 Gaussian, 1 orthogonal, [T27]) and the depth L, it solves the master
system [T29] in s = log u,

    F(s) = log(1+ψ) − log ψ + L[log σ_w² + log ψ + s − κ log(1+ψ)] − log z = 0,
    ψ = E d/(u−d),   1+ψ = u E 1/(u−d)   (no cancellation),

by vectorised damped Newton (numpy complex, one row per grid point) with the
continuation of [T30]: seed far above the spectrum at t = 1e8 (z = x(1+it)), lower t
to 1, walk down the ray t = 1 in ℓ = log x collecting anchors, Newton at every grid point
from the interpolated anchors, then descend t: 1 → η per point with an adaptive ratio.
Every step that ends with Im ψ > 0 or Im s ∉ (0, π) is rejected (no branch jumps).

Output: x ρ(x) = −Im((1+ψ)/(1+iη))/π, the density per unit log x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

_S_CUT = 690.0  # [T30]: beyond |Re s| > 690 the density is below e^-600.


@dataclass
class _State:
    s: np.ndarray  # complex, log u
    psi: np.ndarray  # complex
    onep: np.ndarray  # complex, 1 + psi
    f: np.ndarray  # complex residual
    fp: np.ndarray | None = None  # dF/ds


@dataclass
class _Ray:
    ell: np.ndarray  # anchors ℓ_j (descending)
    s: np.ndarray  # s at z = e^ℓ (1 + i)
    fp: np.ndarray  # dF/ds there
    onep: np.ndarray  # 1 + ψ there (≈ smoothed CDF)
    stop: float  # ℓ where the walk stopped


def _hermite(x: np.ndarray, xa: np.ndarray, ya: np.ndarray, da: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation (complex values ``ya``, slopes ``da``; ``xa`` ascending),
    clamped to the end values outside [xa[0], xa[-1]]."""
    if xa.size == 1:
        return np.full(x.shape, ya[0], dtype=np.complex128)
    xc = np.clip(x, xa[0], xa[-1])
    i = np.clip(np.searchsorted(xa, xc) - 1, 0, xa.size - 2)
    h = xa[i + 1] - xa[i]
    t = (xc - xa[i]) / h
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    return h00 * ya[i] + h10 * h * da[i] + h01 * ya[i + 1] + h11 * h * da[i + 1]


class MasterSystem:
    """The master equation [T29] for one (law of d, weight law, depth, σ_w).

    ``d`` (Q,) and ``w`` (Q,) are the atoms and weights of the discretised law of
    d = φ'(h)² (weights sum to 1); ``kappa`` is 0 (Gaussian) or 1 (orthogonal).
    """

    def __init__(self, d: np.ndarray, w: np.ndarray, depth: int, sigma_w: float, kappa: int):
        d = np.asarray(d, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        keep = w > 1e-18 * w.sum()  # nodes below this weight cannot change a float64 sum
        self.d, self.w = d[keep], w[keep]
        self.wd = self.w * self.d
        self.L = int(depth)
        self.log_s2 = 2.0 * math.log(sigma_w)
        self.kappa = int(kappa)
        self.mu1 = float(self.wd.sum())
        self.mu2 = float((self.wd * self.d).sum())
        self.d_max = float(self.d.max())
        self.p0 = float(self.w[self.d == 0.0].sum())  # atom of d at 0 -> atom of J Jᵀ at 0
        self.degenerate = self.d.size == 1  # d constant: linear net (or q* = 0)

    # ------------------------------------------------------------------ evaluation
    def _eval(self, s: np.ndarray, logz: np.ndarray) -> tuple[_State, np.ndarray]:
        """Residual F(s) and F'(s) for complex arrays ``s`` and ``logz`` (same shape)."""
        u = np.exp(s)
        r = 1.0 / (u[:, None] - self.d[None, :])
        psi = r @ self.wd
        onep = u * (r @ self.w)
        dpsi = -u * ((r * r) @ self.wd)  # dψ/ds
        L, k = self.L, self.kappa
        with np.errstate(all="ignore"):
            f = (
                np.log(onep)
                - np.log(psi)
                + L * (self.log_s2 + np.log(psi) + s - k * np.log(onep))
                - logz
            )
            fp = dpsi * (1.0 / onep - 1.0 / psi + L / psi - L * k / onep) + L
        return _State(s, psi, onep, f), fp

    @staticmethod
    def _valid(st: _State) -> np.ndarray:
        ok = np.isfinite(st.f) & (st.psi.imag <= 0.0) & (st.s.imag > 0.0) & (st.s.imag < np.pi)
        return ok & (np.abs(st.s.real) < 2.0 * _S_CUT)

    def newton(
        self, s0: np.ndarray, logz: np.ndarray, *, maxiter: int = 40, tol: float = 1e-9
    ) -> tuple[_State, np.ndarray]:
        """Damped Newton on F from ``s0``; returns the state and a converged mask.

        A step is halved (up to 30 times) until it lowers |F| and keeps the physical
        branch (Im ψ ≤ 0, 0 < Im s < π); points where no step is accepted are failures.
        Converged: an accepted step with |Δs| ≤ tol (1 + |s|); Newton being quadratic,
        the error left is then O(tol²).
        """
        s = np.array(s0, dtype=np.complex128, copy=True)
        logz = np.asarray(logz, dtype=np.complex128)
        st, fp = self._eval(s, logz)
        good = self._valid(st)
        conv = np.zeros(s.shape, dtype=bool)
        active = good.copy()
        for _ in range(maxiter):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            step = -st.f[idx] / fp[idx]
            big = np.abs(step) > 1.0  # trust region in s: at most one unit per step
            step[big] *= 1.0 / np.abs(step[big])
            base_s, base_f = s[idx], np.abs(st.f[idx])
            lam = np.ones(idx.size)
            pending = np.ones(idx.size, dtype=bool)
            new_s = base_s.copy()
            for _h in range(30):
                p = np.flatnonzero(pending)
                if p.size == 0:
                    break
                trial = base_s[p] + lam[p] * step[p]
                tst, tfp = self._eval(trial, logz[idx[p]])
                ok = self._valid(tst) & (np.abs(tst.f) < np.maximum(base_f[p], 1e-300) * 1.0001)
                small = np.abs(lam[p] * step[p]) <= tol * (1.0 + np.abs(base_s[p]))
                ok |= small & self._valid(tst)
                acc = p[ok]
                new_s[acc] = trial[ok]
                gi = idx[acc]
                s[gi] = trial[ok]
                st.s[gi], st.psi[gi], st.onep[gi], st.f[gi] = (
                    tst.s[ok],
                    tst.psi[ok],
                    tst.onep[ok],
                    tst.f[ok],
                )
                fp[gi] = tfp[ok]
                pending[acc] = False
                lam[p[~ok]] *= 0.5
            failed = pending
            done = ~failed & (np.abs(lam * step) <= tol * (1.0 + np.abs(base_s)))
            conv[idx[done]] = True
            active[idx[done | failed]] = False
            good[idx[failed]] = False
        st.fp = fp
        return st, conv & good

    # ------------------------------------------------------------------ seeds
    def seed(self, log_x: float, t: float) -> complex:
        """Asymptotic seed far above the spectrum [T30]: ψ ≈ m1/z, u ≈ μ1/ψ + μ2/μ1."""
        log_m1 = self.L * (self.log_s2 + math.log(self.mu1))
        logz = log_x + np.log(1.0 + 1j * t)
        psi = np.exp(log_m1 - logz)
        u = self.mu1 / psi + self.mu2 / self.mu1
        return complex(np.log(u))

    # ------------------------------------------------------------------ edges
    def upper_edge(self) -> float:
        """log λ₊, the upper edge of the support: min over real u > max d of log z(u).

        On that branch ψ is real and positive and z(u) [T29] is real; the edge is the
        interior minimum (square-root edge). Parametrised by u = d_max + e^v.
        """
        L, k = self.L, self.kappa

        gap = self.d_max - self.d  # u - d = gap + e^v, without cancellation

        def logz(v: float) -> float:
            ev = math.exp(v)
            u = self.d_max + ev
            r = 1.0 / (gap + ev)
            psi = float(r @ self.wd)
            onep = float(u * (r @ self.w))
            return (
                math.log(onep)
                - math.log(psi)
                + L * (self.log_s2 + math.log(psi) + math.log(u) - k * math.log(onep))
            )

        vs = np.linspace(-36.0, 40.0, 305)
        vals = np.array([logz(v) for v in vs])
        i = int(np.argmin(vals))
        if i == 0 or i == vs.size - 1:
            return float(vals[i])
        res = minimize_scalar(
            logz, bounds=(vs[i - 1], vs[i + 1]), method="bounded", options={"xatol": 1e-13}
        )
        return float(min(res.fun, vals[i]))

    def lower_edge(self) -> float | None:
        """log λ₋ for orthogonal weights: the maximum of log z(u) over real u ∈ (0, min d).

        There ψ ∈ (−∞, −1), 1+ψ < 0 and z(u) [T29] is real and positive, rising from 0
        (u → 0) and falling again towards (σ_w² min d)^L; the interior maximum is the
        square-root lower edge of the (discretised) law. None for Gaussian weights, whose
        spectrum reaches 0, or when no interior maximum is found.
        """
        d_min = float(self.d.min())
        if self.kappa != 1 or d_min <= 0.0:
            return None
        L = self.L
        gap = self.d - d_min  # d - u = gap + d_min (1 - σ(v)), without cancellation

        def logz(v: float) -> float:
            sig = 1.0 / (1.0 + math.exp(-v))
            u = d_min * sig
            r = 1.0 / (gap + d_min / (1.0 + math.exp(v)))  # 1 / (d - u) > 0
            m_psi = float(r @ self.wd)  # -ψ > 1
            m_onep = float(u * (r @ self.w))  # -(1+ψ) > 0
            return (
                math.log(m_onep)
                - math.log(m_psi)
                + L * (self.log_s2 + math.log(m_psi) + math.log(u) - math.log(m_onep))
            )

        vs = np.linspace(-40.0, 36.0, 305)
        vals = np.array([logz(v) for v in vs])
        i = int(np.argmax(vals))
        if i == 0 or i == vs.size - 1:
            return None
        res = minimize_scalar(
            lambda v: -logz(v),
            bounds=(vs[i - 1], vs[i + 1]),
            method="bounded",
            options={"xatol": 1e-13},
        )
        return float(max(-res.fun, vals[i]))

    # ------------------------------------------------------------------ continuation
    def _lower_t(self, s: complex, log_x: float, t0: float, t1: float) -> complex:
        """Continue one point from t0 to t1 (< t0) in adaptive geometric steps."""
        t, ratio = t0, 1e-2
        sa = np.array([s])
        while t > t1:
            tn = max(t * ratio, t1)
            st, ok = self.newton(sa, np.array([log_x + np.log(1.0 + 1j * tn)]))
            if ok[0]:
                sa, t = st.s.copy(), tn
                ratio = max(ratio * ratio, 1e-4)
            else:
                ratio = math.sqrt(ratio)
                if ratio > 0.999:
                    raise RuntimeError("free-probability continuation in t failed")
        return complex(sa[0])

    def ray(self, ell_top: float, ell_floor: float, mass_tol: float = 1e-13) -> _Ray:
        """Walk the ray t = 1 down from ``ell_top`` (above the spectrum) in ℓ = log x.

        Returns the anchors (ℓ_j, s_j, dF/ds_j) and the ℓ where the walk stopped: when
        |1+ψ| < mass_tol (the mass below is then ≲ mass_tol, since |1+ψ| ≈ x E[1/λ] ≥
        P(λ < x)), when |Re s| > 690 [T30], or at ``ell_floor``. Steps adapt: ×1.5 after
        a success (at most max(4, L) nats), halved after a failure.
        """
        s = self.seed(ell_top, 1e8)
        s = self._lower_t(s, ell_top, 1e8, 1.0)
        z1 = np.log(1.0 + 1j)
        st, _ = self.newton(np.array([s]), np.array([ell_top + z1]))
        ells, ss, fps, onep = [ell_top], [s], [complex(st.fp[0])], [complex(st.onep[0])]
        ell, h = ell_top, 0.25
        while ell > ell_floor:
            en = max(ell - h, ell_floor)
            guess = s + (en - ell) / fps[-1]  # ds/dℓ = 1/F'
            st, ok = self.newton(np.array([guess]), np.array([en + z1]), maxiter=25)
            if not ok[0]:
                st, ok = self.newton(np.array([s]), np.array([en + z1]), maxiter=25)
            if not ok[0]:
                h *= 0.5
                if h < 1e-6:
                    raise RuntimeError("free-probability continuation along the ray failed")
                continue
            ell, s = en, complex(st.s[0])
            ells.append(ell)
            ss.append(s)
            fps.append(complex(st.fp[0]))
            onep.append(complex(st.onep[0]))
            h = min(h * 1.5, max(4.0, float(self.L)))
            if abs(st.onep[0] - self.p0) < mass_tol or abs(s.real) > _S_CUT:
                break
        return _Ray(np.array(ells), np.array(ss), np.array(fps), np.array(onep), ell)

    def solve_grid(self, ell: np.ndarray, ray: _Ray, eta: float = 1e-9) -> np.ndarray:
        """x ρ(x) at x = e^ℓ (per unit log x), from ray anchors, descending t: 1 → η.

        Seeds at t = 1 come from cubic Hermite interpolation of the anchors (slope
        ds/dℓ = 1/F'); a point whose seed fails is walked from its nearest anchor.
        """
        ell = np.asarray(ell, dtype=np.float64)
        order = np.argsort(ray.ell)
        a_ell, a_s, a_fp = ray.ell[order], ray.s[order], ray.fp[order]
        s0 = _hermite(ell, a_ell, a_s, 1.0 / a_fp)
        z1 = np.log(1.0 + 1j)
        st, ok = self.newton(s0, ell + z1)
        s, fp = st.s.copy(), st.fp.copy()
        for i in np.flatnonzero(~ok):
            j = int(np.argmin(np.abs(a_ell - ell[i])))
            s[i] = self._walk_ell(a_s[j], a_ell[j], ell[i])
            fp[i] = self._eval(s[i : i + 1], ell[i : i + 1] + z1)[1][0]
        t = np.ones(ell.size)
        ratio = np.full(ell.size, 1e-3)
        for _ in range(400):
            act = np.flatnonzero(t > eta)
            if act.size == 0:
                break
            tn = np.maximum(t[act] * ratio[act], eta)
            # First-order predictor: dF = F' ds - d(log z) = 0.
            dlogz = np.log(1.0 + 1j * tn) - np.log(1.0 + 1j * t[act])
            pred = s[act] + dlogz / fp[act]
            st, ok = self.newton(pred, ell[act] + np.log(1.0 + 1j * tn))
            if not ok.all():  # retry failures from the unpredicted start
                bad0 = np.flatnonzero(~ok)
                st2, ok2 = self.newton(s[act][bad0], ell[act][bad0] + np.log(1.0 + 1j * tn[bad0]))
                st.s[bad0[ok2]] = st2.s[ok2]
                st.fp[bad0[ok2]] = st2.fp[ok2]
                ok[bad0[ok2]] = True
            good = act[ok]
            s[good] = st.s[ok]
            fp[good] = st.fp[ok]
            t[good] = tn[ok]
            ratio[good] = np.maximum(ratio[good] ** 2, 1e-6)
            bad = act[~ok]
            ratio[bad] = np.sqrt(ratio[bad])
            if np.any(ratio[bad] > 0.9999):
                raise RuntimeError("free-probability descent in t failed")
        else:
            raise RuntimeError("free-probability descent in t did not finish")
        st, _ = self._eval(s, ell + np.log(1.0 + 1j * eta))
        dens = -np.imag(st.onep / (1.0 + 1j * eta)) / np.pi
        dens[np.abs(s.real) > _S_CUT] = 0.0
        return np.maximum(dens, 0.0)

    def _walk_ell(self, s: complex, ell0: float, ell1: float) -> complex:
        """Continue a single point along t = 1 from ℓ0 to ℓ1 in small steps."""
        z1 = np.log(1.0 + 1j)
        ell, h = ell0, (ell1 - ell0) / 8.0
        while abs(ell1 - ell) > 0:
            en = ell + h if abs(h) < abs(ell1 - ell) else ell1
            st, ok = self.newton(np.array([s]), np.array([en + z1]))
            if ok[0]:
                ell, s = en, complex(st.s[0])
            else:
                h *= 0.5
                if abs(h) < 1e-8:
                    raise RuntimeError("free-probability continuation along the ray failed")
        return s
