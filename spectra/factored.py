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
:class:`OrthFactors`) when the optional native kernel ``spectra/_native.c`` is built;
the dense kernel from the same draws is bit-identical to
:func:`spectra.kernels.conv_kernel` ("orth"), and every other path uses it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

import torch

from .kernels import _as_generator, _check_sigma, _orth_dense, _orth_draw, _orth_order

__all__ = ["OrthFactors", "FactoredLayer", "orth_kernel_factored", "native_available"]

#: channel counts the native kernel is compiled for (64-byte vectors of channels)
NATIVE_CHANNELS = (16, 32, 64, 128)


@dataclass(frozen=True)
class OrthFactors:
    """An Algorithm-1 kernel (c x c, size k, ``dim`` spatial axes) in factored form.

    ``mats`` (S + 1, c, c) float64: the channel mixes M_0 .. M_S (sigma_w folded into
    M_S); ``ranks`` (S,): stage j >= 1 takes coordinates >= ranks[j-1] of its input from
    the neighbouring pixel along ``axes[j-1]`` (offset +1); the result is the conv's
    output shifted by -(k // 2) on every axis (the kernel's centre).
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
        r = self.kernel // 2
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
    sigma_w = _check_sigma(sigma_w)
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


# --------------------------------------------------------------------------- native
@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    try:
        from . import _native
    except ImportError:
        return None
    lib = ctypes.CDLL(_native.__file__)
    vp, ci = ctypes.c_void_p, ctypes.c_int
    for bits in ("f32", "f64"):
        for c in NATIVE_CHANNELS:
            fn = getattr(lib, f"orth_push_{bits}_c{c}")
            fn.argtypes = [vp, vp, ctypes.c_long, ci, ci, ci, vp, vp, vp, vp, vp, vp]
            fn.restype = None
    return lib


def native_available() -> bool:
    """True when the optional native kernel (``spectra/_native.c``) was built."""
    return _library() is not None


@lru_cache(maxsize=16)
def _index_maps(n: int, dim: int, kernel: int, axes: tuple[int, ...]):
    """int32 (S + 1, n^d) source pixel of every stage (stage 0: itself) and (n^d,) output
    pixel of every computed one, channels-last pixel order."""
    idx = torch.arange(n**dim).reshape((n,) * dim)
    shifts = [idx.reshape(-1)] + [torch.roll(idx, -1, dims=a).reshape(-1) for a in axes]
    r = kernel // 2
    out = torch.roll(idx, shifts=(-r,) * dim, dims=tuple(range(dim))).reshape(-1)
    return torch.stack(shifts).to(torch.int32).contiguous(), out.to(torch.int32).contiguous()


@lru_cache(maxsize=16)
def _inverse_shifts(n: int, axes: tuple[int, ...]) -> torch.Tensor:
    """int32 (len(axes), n^2): pixel p - e_axis for each axis (the adjoint's reads)."""
    idx = torch.arange(n * n).reshape(n, n)
    rows = [torch.roll(idx, 1, dims=a).reshape(-1) for a in axes]
    return torch.stack(rows).to(torch.int32) if rows else torch.empty(0, n * n, dtype=torch.int32)


def native_supported(factors: OrthFactors | None, dtype, device, dim: int) -> bool:
    """Whether :class:`NativePush` can run this layer: factors given, and
    :func:`native_shape_supported` for its channels."""
    return (
        factors is not None
        and factors.dim == 2
        and native_shape_supported(factors.channels, dtype, device, dim)
    )


def native_shape_supported(channels: int, dtype, device, dim: int) -> bool:
    """CPU, float32/64, 2D, c in :data:`NATIVE_CHANNELS`, and the library built."""
    return (
        dim == 2
        and torch.device(device or "cpu").type == "cpu"
        and dtype in (torch.float32, torch.float64)
        and channels in NATIVE_CHANNELS
        and native_available()
    )


class NativePush:
    """One layer prepared for the native kernel: its channel mixes in ``dtype``, ranks and
    the pixel maps for images n x n. Calling it pushes batch rows through this layer
    alone; :class:`NativeRun` pushes them through several consecutive layers at once.

    ``adjoint``: the transposed conv instead (the VJP of [T23]): K^T = M_0^T Pi_1^T ...
    Pi_S^T M_S^T R^T, where R^T gathers the output pixels back (stage 0 reads every
    coordinate through that map) and Pi_j^T takes the shifted coordinates from the
    neighbour on the other side; the result is not rolled, and is multiplied by the
    ``dphi`` given with it (in the VJP chain: the previous layer's phi').
    """

    def __init__(self, factors: OrthFactors, dtype, n: int, adjoint: bool = False) -> None:
        if dtype not in (torch.float32, torch.float64) or factors.channels not in NATIVE_CHANNELS:
            raise ValueError(f"native push: float32/float64 and c in {NATIVE_CHANNELS} only")
        c, self.n = factors.channels, n
        self.dtype, self.channels = dtype, c
        mats = factors.mats.to(device="cpu", dtype=dtype)
        shifts, out = _index_maps(n, 2, factors.kernel, factors.axes)
        if not adjoint:  # stage s multiplies by M_s: stored as M_s^T (columns contiguous)
            self.mt = mats.transpose(1, 2).contiguous()
            self.ranks = torch.tensor((c,) + factors.ranks, dtype=torch.int32)
            self.shifts, self.out = shifts, out
        else:  # stage s multiplies by M_{S-s}^T: stored as M_{S-s}
            self.mt = mats.flip(0).contiguous()
            self.ranks = torch.tensor((0,) + factors.ranks[::-1], dtype=torch.int32)
            back = _inverse_shifts(n, factors.axes[::-1])
            self.shifts = torch.cat([out[None], back]).contiguous()
            self.out = shifts[0].clone()  # the identity
        self.key = (dtype, c, n, factors.kernel, factors.axes, adjoint)
        self.img = c * n * n

    def scratch(self) -> torch.Tensor:
        """A per-thread work area (4 images)."""
        return torch.empty(4 * self.img, dtype=self.dtype)

    def __call__(self, src, dst, dphi, lo: int, hi: int, scratch: torch.Tensor) -> None:
        """dst[lo:hi] = dphi * conv(src[lo:hi]); see :class:`NativeRun`."""
        NativeRun([self], [dphi])(src, dst, lo, hi, scratch)


class NativeRun:
    """Consecutive layers ``pushes`` (same :attr:`NativePush.key`) with their phi'(h)
    ``dphis`` ((1, c, n, n) channels-last, ``dtype``): T <- D_L K_L ... D_1 K_1 T for
    batch rows lo:hi of channels-last (B, c, n, n) buffers ``src`` -> ``dst`` (distinct).
    Each image goes through every layer while it sits in L1; images are independent, so
    concurrent calls on disjoint rows (ctypes releases the GIL) give the same bits as
    one call."""

    def __init__(self, pushes: list[NativePush], dphis: list[torch.Tensor]) -> None:
        first = pushes[0]
        if any(p.key != first.key for p in pushes):
            raise ValueError("a native run needs layers of one shape, dtype and kernel")
        want = (1, first.channels, first.n, first.n)
        if len(dphis) != len(pushes) or any(
            tuple(d.shape) != want or d.dtype != first.dtype for d in dphis
        ):
            raise ValueError(f"a native run needs one phi' of shape {want} per layer")
        self.first, self.layers = first, len(pushes)
        self.mt = torch.stack([p.mt for p in pushes]).contiguous()
        self.ranks = torch.stack([p.ranks for p in pushes]).contiguous()
        cl = torch.channels_last
        self.d = torch.cat([d.contiguous(memory_format=cl) for d in dphis]).contiguous(
            memory_format=cl
        )
        bits = "f32" if first.dtype == torch.float32 else "f64"
        self.fn = getattr(_library(), f"orth_push_{bits}_c{first.channels}")
        self.img = first.img

    def scratch(self) -> torch.Tensor:
        return self.first.scratch()

    def __call__(self, src, dst, lo: int, hi: int, scratch: torch.Tensor) -> None:
        if hi <= lo:
            return
        p, f = ctypes.c_void_p, self.first
        # the kernel trusts raw pointers: check what it will read and write
        want = (f.channels, f.n, f.n)
        cl = torch.channels_last
        for t in (src, dst):
            if (
                t.dtype != f.dtype
                or t.device.type != "cpu"
                or tuple(t.shape[1:]) != want
                or not t.is_contiguous(memory_format=cl)
            ):
                raise ValueError(f"native push needs channels-last (B, {want}) {f.dtype} on CPU")
        if not (0 <= lo and hi <= min(src.shape[0], dst.shape[0])):
            raise ValueError("native push: rows out of range")
        size = (hi - lo) * f.img * src.element_size()
        a, b = src[lo].data_ptr(), dst[lo].data_ptr()
        if a < b + size and b < a + size:
            raise ValueError("native push: src and dst rows overlap")
        if scratch.dtype != f.dtype or scratch.numel() < 4 * f.img or not scratch.is_contiguous():
            raise ValueError("native push: scratch too small, strided or of another dtype")
        self.fn(
            p(src[lo].data_ptr()),
            p(dst[lo].data_ptr()),
            hi - lo,
            f.n * f.n,
            self.layers,
            self.ranks.shape[1],
            p(self.mt.data_ptr()),
            p(self.ranks.data_ptr()),
            p(f.shifts.data_ptr()),
            p(self.d.data_ptr()),
            p(f.out.data_ptr()),
            p(scratch.data_ptr()),
        )
