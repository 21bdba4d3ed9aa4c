"""Explicit operators of circular convolutions and their exact singular values.

A kernel ``W`` of shape ``(c_out, c_in) + (k_1, .., k_d)`` (d = 1, 2 or 3; any sizes, even
and rectangular included) acts on an image ``x`` of shape ``(c_in, n_1, .., n_d)`` by the
circular cross-correlation of the theory page [T1]/[T2]:
``y_j(s) = sum_{i, a} W_ji(a) x_i(s + a - r)`` with ``r_t = (k_t - 1) // 2`` per axis
(the origin of TF's and torch's ``'same'`` padding; for odd k the centre tap) and indices
mod n. Images are flattened in C order (index = ch * prod(n) + s_1 n_2 n_3 + ..., [T5]).

- :func:`conv_matrix`: the dense ``(c_out N, c_in N)`` block-circulant matrix [T5]
  (N = prod(n)); taps alias (are summed) when n < k.
- :func:`conv_singular_values`: all N min(c_in, c_out) singular values by the FFT route
  [T6]/[T7] (a batched SVD of the ``c_out x c_in`` symbols P(m)), sorted descending.

``size`` is an int n (the same on every axis) or a tuple of d sizes.
"""

from __future__ import annotations

import math

import torch

from .errors import SpectraError

__all__ = ["wrapped_kernel", "conv_matrix", "conv_symbols", "conv_singular_values"]


def _check(kernel: torch.Tensor, size) -> tuple[int, tuple[int, ...]]:
    """Validate ``kernel``/``size``; return (dim, n per axis)."""
    if not torch.is_tensor(kernel) or kernel.dim() not in (3, 4, 5):
        shape = tuple(kernel.shape) if torch.is_tensor(kernel) else type(kernel).__name__
        raise SpectraError(
            f"kernel must have shape (c_out, c_in, *k) with 1 to 3 spatial axes, got {shape}"
        )
    dim = kernel.dim() - 2
    sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dim
    if len(sizes) != dim or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes
    ):
        raise SpectraError(f"size must be an integer >= 1 or {dim} of them, got {size!r}")
    return dim, sizes


def wrapped_kernel(kernel: torch.Tensor, size) -> torch.Tensor:
    """The kernel placed on the torus: ``(c_out, c_in) + (n_1, .., n_d)``.

    Tap ``a`` (offset ``beta = a - r``, r = (k - 1) // 2) lands at position ``beta mod n``;
    taps that collide when n < k are summed ([T5], [T7]). Entry ``[j, i, t]`` is the
    coefficient of ``x_i(s + t)`` in ``y_j(s)``.
    """
    dim, sizes = _check(kernel, size)
    out = kernel
    for axis, n in zip(range(2, 2 + dim), sizes, strict=True):
        k = kernel.shape[axis]
        idx = (torch.arange(k, device=kernel.device) - (k - 1) // 2) % n
        shape = list(out.shape)
        shape[axis] = n
        out = torch.zeros(shape, dtype=kernel.dtype, device=kernel.device).index_add_(
            axis, idx, out
        )
    return out


def conv_matrix(kernel: torch.Tensor, size) -> torch.Tensor:
    """The dense matrix M of the circular conv with ``kernel`` on images of ``size``.

    Shape ``(c_out N, c_in N)``, N = prod(n); for odd k, ``conv_matrix(W, n) @ x.reshape(-1)``
    equals ``F.conv2d(F.pad(x[None], (r,)*4, mode="circular"), W).reshape(-1)`` (1D:
    ``conv1d``, 3D: ``conv3d``); for any k it equals torch's ``padding='same',
    padding_mode='circular'`` conv. M[(j, s), (i, s')] = sum over beta with
    s + beta = s' (mod n) of W_ji(beta) ([T5]). Built by one gather (no loops over
    positions); same dtype/device as ``kernel``.
    """
    dim, sizes = _check(kernel, size)
    c_out, c_in = kernel.shape[:2]
    wn = wrapped_kernel(kernel, sizes)
    index = []
    for t, n in enumerate(sizes):
        pos = torch.arange(n, device=kernel.device)
        lag = (pos[None, :] - pos[:, None]) % n  # lag[s, s'] = s' - s mod n
        shape = [1] * (2 * dim)
        shape[t], shape[dim + t] = n, n
        index.append(lag.reshape(shape))
    m = wn[(slice(None), slice(None), *index)]  # (o, i, s_1..s_d, s'_1..s'_d)
    m = m.permute(0, *range(2, 2 + dim), 1, *range(2 + dim, 2 + 2 * dim))
    n_d = math.prod(sizes)
    return m.reshape(c_out * n_d, c_in * n_d)


def conv_symbols(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """The symbols P(m) = sum_beta W(beta) omega^<m, beta> of [T6], conjugated.

    Shape ``(n_1, .., n_d) + (c_out, c_in)``, complex. The conjugation (the FFT uses
    omega^-1) does not change singular values ([T7]).
    """
    dim, sizes = _check(kernel, size)
    wn = wrapped_kernel(kernel, sizes)
    spatial = tuple(range(2, 2 + dim))
    p = torch.fft.fftn(wn, dim=spatial)
    return p.permute(*spatial, 0, 1)


def conv_singular_values(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """All singular values of ``conv_matrix(kernel, size)``, sorted descending ([T7]).

    N min(c_in, c_out) real values (N = prod(n)), the union over frequencies m of
    sv(P(m)); exact up to rounding, at cost N SVDs of c_out x c_in instead of one of
    size c N. Any kernel shape (even, rectangular, 1D to 3D).
    """
    sv = torch.linalg.svdvals(conv_symbols(kernel, size))
    return torch.sort(sv.reshape(-1), descending=True).values
