"""Explicit operators of circular convolutions and their exact singular values.

A kernel ``W`` of shape ``(c_out, c_in, k)`` or ``(c_out, c_in, k, k)`` acts on an image
``x`` of shape ``(c_in, n)`` or ``(c_in, n, n)`` by the circular cross-correlation of
the theory page [T1]/[T2]: ``y_j(s) = sum_{i, beta} W_ji(beta) x_i(s + beta)`` with
``beta in {-r..r}^d`` and indices mod n. Images are flattened in C order
(index = ch * n^d + s_1 n + s_2, [T5]).

- :func:`conv_matrix`: the dense ``(c_out n^d, c_in n^d)`` block-circulant matrix [T5];
  taps alias (are summed) when n < k.
- :func:`conv_singular_values`: all n^d min(c_in, c_out) singular values by the FFT route
  [T6]/[T7] (a batched SVD of the ``c_out x c_in`` symbols P(m)), sorted descending.
"""

from __future__ import annotations

import torch

from .errors import SpectraError

__all__ = ["wrapped_kernel", "conv_matrix", "conv_symbols", "conv_singular_values"]


def _check(kernel: torch.Tensor, size: int) -> tuple[int, int]:
    """Validate ``kernel``/``size``; return (dim, k)."""
    if not torch.is_tensor(kernel) or kernel.dim() not in (3, 4):
        shape = tuple(kernel.shape) if torch.is_tensor(kernel) else type(kernel).__name__
        raise SpectraError(
            f"kernel must have shape (c_out, c_in, k) or (c_out, c_in, k, k), got {shape}"
        )
    spatial = tuple(kernel.shape[2:])
    k = spatial[0]
    if len(set(spatial)) != 1 or k % 2 == 0:
        raise SpectraError(f"kernel taps must be odd and square, got spatial shape {spatial}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise SpectraError(f"size must be an integer >= 1, got {size!r}")
    return kernel.dim() - 2, k


def wrapped_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """The kernel placed on the n^d torus: ``(c_out, c_in) + (n,)*dim``.

    Tap ``a`` (offset ``beta = a - r``) lands at position ``beta mod n``; taps that collide
    when n < k are summed ([T5], [T7]). Entry ``[j, i, t]`` is the coefficient of
    ``x_i(s + t)`` in ``y_j(s)``.
    """
    dim, k = _check(kernel, size)
    r = k // 2
    idx = (torch.arange(k, device=kernel.device) - r) % size
    out = kernel
    for axis in range(2, 2 + dim):
        shape = list(out.shape)
        shape[axis] = size
        out = torch.zeros(shape, dtype=kernel.dtype, device=kernel.device).index_add_(
            axis, idx, out
        )
    return out


def conv_matrix(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """The dense matrix M of the circular conv with ``kernel`` on size-``size`` images.

    Shape ``(c_out * n^d, c_in * n^d)``; ``conv_matrix(W, n) @ x.reshape(-1)`` equals
    ``F.conv2d(F.pad(x[None], (r,)*4, mode="circular"), W).reshape(-1)`` (1D: ``conv1d``).
    M[(j, s), (i, s')] = sum over beta with s + beta = s' (mod n) of W_ji(beta) ([T5]).
    Built by one gather (no loops over positions); same dtype/device as ``kernel``.
    """
    dim, _ = _check(kernel, size)
    c_out, c_in = kernel.shape[:2]
    wn = wrapped_kernel(kernel, size)
    pos = torch.arange(size, device=kernel.device)
    lag = (pos[None, :] - pos[:, None]) % size  # lag[s, s'] = s' - s mod n
    if dim == 1:
        m = wn[:, :, lag]  # (c_out, c_in, s, s')
        m = m.permute(0, 2, 1, 3)
    else:
        m = wn[:, :, lag[:, None, :, None], lag[None, :, None, :]]  # (o, i, s1, s2, s1', s2')
        m = m.permute(0, 2, 3, 1, 4, 5)
    n_d = size**dim
    return m.reshape(c_out * n_d, c_in * n_d)


def conv_symbols(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """The symbols P(m) = sum_beta W(beta) omega^<m, beta> of [T6], conjugated.

    Shape ``(n,)*dim + (c_out, c_in)``, complex. The conjugation (the FFT uses omega^-1)
    does not change singular values ([T7]).
    """
    dim, _ = _check(kernel, size)
    wn = wrapped_kernel(kernel, size)
    spatial = tuple(range(2, 2 + dim))
    p = torch.fft.fftn(wn, dim=spatial)
    return p.permute(*spatial, 0, 1)


def conv_singular_values(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """All singular values of ``conv_matrix(kernel, size)``, sorted descending ([T7]).

    n^d min(c_in, c_out) real values, the union over frequencies m of sv(P(m)); exact up to
    rounding, at cost n^d SVDs of c_out x c_in instead of one of size c n^d.
    """
    sv = torch.linalg.svdvals(conv_symbols(kernel, size))
    return torch.sort(sv.reshape(-1), descending=True).values
