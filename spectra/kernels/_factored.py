"""Orthogonal kernels in Algorithm 1's factored form, and their native tangent push.

Algorithm 1 ([T8]) builds the kernel as K = A_S ... A_1 H0 with S = (k - 1) d two-tap
factors A_j = P_j + (I - P_j) z_{a_j} (a_j the spatial axis, P_j = U_j diag(1_{rho_j}, 0)
U_j^T a projection). Since A_j = U_j Pi_j U_j^T, where Pi_j keeps the first rho_j
coordinates at the pixel and takes the others from its neighbour along a_j, the circular
conv with K is S + 1 channel mixes

    M_0 = U_1^T H0,   M_j = U_{j+1}^T U_j (0 < j < S),   M_S = sigma_w U_S

with pixel shifts in between: (S + 1) c^2 multiply-adds per pixel instead of k^d c^2
(5 instead of 9 for a 3 x 3 kernel), and no circular padding. The engine uses this form
for ``orth`` layers drawn by :func:`spectra.network.iter_block_layers` (which carry their
:class:`OrthFactors`) when the optional native kernel is built (:mod:`spectra.native`);
the dense kernel from the same draws is bit-identical to
:func:`spectra.kernels.conv_kernel` ("orth"), and every other path uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import check_real
from ._draw import _as_generator, _orth_dense, _orth_draw, _orth_order, small_linalg_threads


@dataclass(frozen=True)
class OrthFactors:
    """An Algorithm-1 kernel (c x c, size k, ``dim`` spatial axes) in factored form.

    ``mats`` (S + 1, c, c) float64: the channel mixes M_0 .. M_S (sigma_w folded into
    M_S); ``ranks`` (S,): stage j >= 1 takes coordinates >= ranks[j-1] of its input from
    the neighbouring pixel along ``axes[j-1]`` (offset +1); the result is the conv's
    output shifted by -((k - 1) // 2) on every axis (the kernel's tap origin, [T2]).
    """

    mats: torch.Tensor
    ranks: tuple[int, ...]
    axes: tuple[int, ...]
    kernel: int
    dim: int

    @property
    def channels(self) -> int:
        return self.mats.shape[-1]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The circular conv of ``x`` (B, c, *n) with this kernel, computed from the factors
        in torch (the reference for the native kernel): same result as
        ``spectra.network.circular_conv(x, weight)``."""
        spatial = tuple(range(2, 2 + self.dim))
        y = torch.einsum("ij,bj...->bi...", self.mats[0].to(x), x)
        for j, (rank, axis) in enumerate(zip(self.ranks, self.axes, strict=True)):
            moved = torch.roll(y[:, rank:], shifts=-1, dims=2 + axis)
            y = torch.cat([y[:, :rank], moved], dim=1)
            y = torch.einsum("ij,bj...->bi...", self.mats[j + 1].to(x), y)
        r = (self.kernel - 1) // 2
        return torch.roll(y, shifts=(r,) * self.dim, dims=spatial)


class FactoredLayer(tuple):
    """A layer ``(weight, bias)`` (unpacks as the pair) that also carries ``factors``.

    The factors describe the weight as it was when the layer was made: an in-place change
    of the weight (torch's version counter moves) makes :func:`factors_of` drop them.
    """

    factors: OrthFactors

    def __new__(cls, weight: torch.Tensor, bias: torch.Tensor, factors: OrthFactors):
        obj = super().__new__(cls, (weight, bias))
        obj.factors = factors
        obj.version = weight._version
        return obj

    def __getnewargs__(self):
        return (self[0], self[1], self.factors)


def factors_of(layer) -> OrthFactors | None:
    """The layer's :class:`OrthFactors` if it carries some and its weight has not been
    modified in place since; else None (the layer is then pushed by its dense weight)."""
    factors = getattr(layer, "factors", None)
    if factors is None or layer[0]._version != getattr(layer, "version", None):
        return None
    return factors


def orth_kernel_factored(
    c: int, k: int, *, dim: int = 2, sigma_w: float = 1.0, generator=None
) -> tuple[torch.Tensor, OrthFactors]:
    """One Algorithm-1 draw ([T8]), c x c: the dense float64 weight (c, c, *(k,)*dim),
    bit-identical to ``conv_kernel("orth", c, c, k, dim=dim, sigma_w=sigma_w)`` from the
    same generator state, and its :class:`OrthFactors`."""
    g = _as_generator(generator)
    sigma_w = check_real("sigma_w", sigma_w)
    with small_linalg_threads():
        h0, u, rho = _orth_draw(c, k, dim, g)
        weight = (_orth_dense(h0, u, rho, c, k, dim) * sigma_w).contiguous()
        order = _orth_order(k, dim)
        if not order:
            mats = (sigma_w * h0)[None]
        else:
            us = [u[j] for j, _ in order]
            mats = [us[0].T @ h0] + [us[j + 1].T @ us[j] for j in range(len(us) - 1)]
            mats = torch.stack(mats + [sigma_w * us[-1]])
    factors = OrthFactors(
        mats.contiguous(),
        tuple(int(rho[j]) for j, _ in order),
        tuple(axis for _, axis in order),
        k,
        dim,
    )
    return weight, factors
