"""The one dense reference the tests check every Jacobian route against.

It builds J = prod_l D_l M_l [T5], [T21] from the explicit block-circulant matrices
M_l = ``spectra.operators.conv_matrix(W_l)`` (checked against torch's convolutions in
tests/core/test_operators.py) and D_l = diag(phi'(h_l)), with h_l = M_l x_{l-1} + b_l computed
by that same matrix, not by any engine code. Float64 throughout; for the products whose
singular values span beyond float64's range, :func:`mpmath_log_singular_values` multiplies
the same float64 layer matrices exactly in mpmath and takes an mpmath SVD.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from spectra.operators import conv_matrix


def layer_matrices(stack) -> Iterator[np.ndarray]:
    """The (N, N) float64 layer matrices D_l M_l of a ``ConvStack``, input to output."""
    x = stack.x0.reshape(-1).to(torch.float64)
    rep = stack.size**stack.dim
    for w, b in stack.layers():
        m = conv_matrix(w.to(torch.float64), stack.size)
        h = m @ x + b.to(torch.float64).repeat_interleave(rep)
        yield (stack.activation.torch_dphi(h)[:, None] * m).numpy()
        x = stack.activation.torch_phi(h)


def explicit_jacobian(stack) -> torch.Tensor:
    """J (N, N) float64 of a ``ConvStack`` by the explicit product of its layer matrices."""
    j = np.eye(stack.n_features)
    for a in layer_matrices(stack):
        j = a @ j
    return torch.from_numpy(j)


def mpmath_log_singular_values(stack, dps: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """log s of J, descending: the float64 layer matrices multiplied exactly at ``dps``
    digits, then an mpmath SVD (no QR, no log-domain scaling). ``noise``: each entry of
    each layer matrix multiplied by (1 + noise * N(0, 1)) first (a conditioning probe)."""
    import mpmath

    mp = mpmath.mp
    old, mp.dps = mp.dps, dps
    rng = np.random.default_rng(seed)
    try:
        j = mp.eye(stack.n_features)
        for a in layer_matrices(stack):
            if noise:
                a = a * (1 + noise * rng.standard_normal(a.shape))
            j = mp.matrix(a.tolist()) * j
        s = mp.svd_r(j, compute_uv=False)
        return np.sort(np.array([float(mp.log(v)) for v in s]))[::-1]
    finally:
        mp.dps = old


def mpmath_log_singular_values_of(mats, dps: int) -> np.ndarray:
    """log s, descending, of the product ``mats[-1] @ ... @ mats[0]`` of float64 arrays,
    multiplied exactly at ``dps`` digits, then an mpmath SVD."""
    import mpmath

    mp = mpmath.mp
    old, mp.dps = mp.dps, dps
    try:
        j = mp.eye(mats[0].shape[1])
        for a in mats:
            j = mp.matrix(a.tolist()) * j
        s = mp.svd_r(j, compute_uv=False)
        return np.sort(np.array([float(mp.log(v)) for v in s]))[::-1]
    finally:
        mp.dps = old
