"""Classical random-matrix laws: Marchenko–Pastur [T32] and the quarter circle [T33].

Densities and CDFs in closed form (numpy, float64); re-exported by :mod:`spectra.rmt`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import check_real


def marchenko_pastur_density(x, ratio: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """[T32] Continuous part of the Marchenko–Pastur density of the eigenvalues of W Wᵀ.

    W is N×M with entry variance σ²/M and ``ratio`` γ = N/M; the density is
    √((b−x)(x−a)) / (2πσ²γx) on [a, b] = σ²(1 ∓ √γ)². For γ > 1 there is also an atom
    1 − 1/γ at 0 (see :func:`marchenko_pastur_cdf`), not included here.
    """
    g, s2 = (
        check_real("ratio", ratio, positive=True),
        check_real("sigma", sigma, positive=True) ** 2,
    )
    x = np.asarray(x, dtype=np.float64)
    a, b = s2 * (1 - math.sqrt(g)) ** 2, s2 * (1 + math.sqrt(g)) ** 2
    inside = (x > a) & (x < b)
    xs = np.where(inside, x, 0.5 * (a + b))
    val = np.sqrt(np.maximum((b - xs) * (xs - a), 0.0)) / (2 * np.pi * s2 * g * xs)
    return np.where(inside, val, 0.0)


def marchenko_pastur_cdf(x, ratio: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """[T32] P(eigenvalue ≤ x) for Marchenko–Pastur, including the atom (1 − 1/γ)⁺ at 0.

    Closed form: with x = m + h cos φ (m, h the centre and half-width of [a, b]) the
    integrand becomes m − h cos φ − (m² − h²)/(m + h cos φ), integrated exactly.
    """
    g, s2 = (
        check_real("ratio", ratio, positive=True),
        check_real("sigma", sigma, positive=True) ** 2,
    )
    x = np.asarray(x, dtype=np.float64)
    a, b = s2 * (1 - math.sqrt(g)) ** 2, s2 * (1 + math.sqrt(g)) ** 2
    m, h = 0.5 * (a + b), 0.5 * (b - a)
    atom = max(1.0 - 1.0 / g, 0.0)
    # phi runs from pi (x = a) down to 0 (x = b); F(x) = atom + I(phi(x)) with
    # I(phi) = (1/(2 pi s2 g)) int_phi^pi h^2 sin^2 t / (m + h cos t) dt, whose
    # antiderivative is m t - h sin t - 2k atan(sqrt((m-h)/(m+h)) tan(t/2)), k^2 = m^2-h^2.
    xc = np.clip(x, a, b)
    phi = np.arccos(np.clip((xc - m) / h, -1.0, 1.0))
    k = math.sqrt(max(m * m - h * h, 0.0))

    def anti(t):
        if k == 0.0:
            return m * t - h * np.sin(t)
        c = math.sqrt((m - h) / (m + h))
        return m * t - h * np.sin(t) - 2 * k * np.arctan(c * np.tan(t / 2))

    with np.errstate(all="ignore"):
        top = m * np.pi - 2 * k * (np.pi / 2)  # limit of anti(t) as t -> pi
        val = (top - anti(phi)) / (2 * np.pi * s2 * g)
    cont = np.where(x >= b, 1.0 - atom, np.where(x <= a, 0.0, val))
    return np.where(x >= 0, atom + cont, 0.0)


def quarter_circle_density(s, sigma: float = 1.0) -> np.ndarray:
    """[T33] Density √(4σ² − s²)/(πσ²) on [0, 2σ] of the singular values of an N×N matrix
    with entry variance σ²/N."""
    s2 = check_real("sigma", sigma, positive=True) ** 2
    s = np.asarray(s, dtype=np.float64)
    inside = (s >= 0) & (s <= 2 * math.sqrt(s2))
    return np.where(inside, np.sqrt(np.maximum(4 * s2 - s * s, 0.0)) / (np.pi * s2), 0.0)


def quarter_circle_cdf(s, sigma: float = 1.0) -> np.ndarray:
    """[T33] CDF of the quarter-circle law: with s = 2σ sin θ, F = (2θ + sin 2θ)/π."""
    sig = check_real("sigma", sigma, positive=True)
    s = np.asarray(s, dtype=np.float64)
    th = np.arcsin(np.clip(s / (2 * sig), 0.0, 1.0))
    return (2 * th + np.sin(2 * th)) / np.pi
