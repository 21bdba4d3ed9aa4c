"""Gaussian expectations by the quadrature rules the theory page prescribes.

- [T13]: E f(z), z ~ N(0, 1), by the trapezoid rule on [-12, 12] with step h = 0.05 and
  weights h exp(-z^2/2)/sqrt(2 pi) (error ~ exp(-2 pi delta / h), <= 3e-14 for tanh with
  q* <= 10, where Gauss-Hermite degrades). The c-map uses the tensor product (481^2 nodes).
- [T28]: Gauss-Legendre in |z| on [0, 12] (400 nodes), for the law of phi'(h)^2.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["gauss_nodes", "gauss_nodes_2d", "half_line_nodes", "gauss_expect"]

_LIMIT = 12.0
_STEP = 0.05


@cache
def _trapezoid() -> tuple[np.ndarray, np.ndarray]:
    m = int(round(2 * _LIMIT / _STEP)) + 1  # 481 nodes
    z = np.linspace(-_LIMIT, _LIMIT, m)
    w = _STEP * np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
    # End-point halving is immaterial (weights there are ~1e-32) but kept for the rule.
    w[0] *= 0.5
    w[-1] *= 0.5
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def gauss_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z`` (481,) and weights ``w`` (481,) with sum(w f(z)) ~ E f(z), z ~ N(0,1) [T13]."""
    return _trapezoid()


def gauss_nodes_2d() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tensor-product nodes ``z1, z2`` and weights ``w``, each (481, 481), for E f(z1, z2) [T13]."""
    z, w = _trapezoid()
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return z1, z2, np.outer(w, w)


@cache
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import roots_legendre  # same nodes as numpy's leggauss, much faster

    x, w = roots_legendre(n)
    r = 0.5 * _LIMIT * (x + 1.0)
    wr = 0.5 * _LIMIT * w * 2.0 * np.exp(-0.5 * r**2) / np.sqrt(2.0 * np.pi)
    r.setflags(write=False)
    wr.setflags(write=False)
    return r, wr


def half_line_nodes(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes ``r`` in |z| on [0, 12] and weights summing to ~1 [T28].

    For an even integrand g (g(z) = g(-z)), ``sum(w * g(r))`` ~ E g(z), z ~ N(0, 1).
    """
    return _legendre(int(n))


def gauss_expect(f, q: float = 1.0) -> float:
    """E f(sqrt(q) z) for z ~ N(0, 1), by the [T13] trapezoid rule. ``f`` maps arrays."""
    z, w = _trapezoid()
    return float(np.dot(w, f(np.sqrt(q) * z)))
