"""Native tangent pushes (``spectra/jacobian/_kernel.c``, called through ctypes).

Two kinds of layer, pushed for a run of consecutive layers per call (each tangent image
goes through every layer of the run while it sits in L1, phi'(h) included):

- :class:`NativePush`: an ``orth`` kernel in Algorithm 1's factored form
  (:mod:`spectra.factored`): S + 1 channel mixes with pixel shifts between, 5 c^2
  multiply-adds per pixel for 3 x 3 instead of 9 c^2;
- :class:`NativeTaps`: any dense kernel as its nonzero taps, y(p) = sum_t W_t x(p + o_t)
  (a delta kernel is one tap), where oneDNN's float64 conv is slow and a float32 one
  needs the halo and phi' passes.

Both have adjoints (the VJP of [T23]). Compiled for 2D, float32/float64, c in
:data:`NATIVE_CHANNELS`, by ``pip install`` when a C compiler is present (``setup.py``:
an optional extension); :func:`native_available` says whether it was. Images are
independent, so concurrent calls on disjoint batch rows (ctypes releases the GIL) give
the same bits as one call.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

import torch

from ..kernels import OrthFactors, factors_of

#: channel counts the native kernel is compiled for (64-byte vectors of channels)
NATIVE_CHANNELS = (16, 32, 64, 128)


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    try:
        from . import _kernel as _native
    except ImportError:
        return None
    lib = ctypes.CDLL(_native.__file__)
    # the argument kinds come from the C file itself (its exported signature strings)
    kinds = {"p": ctypes.c_void_p, "l": ctypes.c_long, "i": ctypes.c_int}
    for kind in ("orth", "taps"):
        argtypes = [kinds[k] for k in getattr(_native, f"{kind}_signature")]
        for bits in ("f32", "f64"):
            for c in NATIVE_CHANNELS:
                fn = getattr(lib, f"{kind}_push_{bits}_c{c}")
                fn.argtypes, fn.restype = argtypes, None
    return lib


def native_available() -> bool:
    """True when the optional native kernel (``spectra/jacobian/_kernel.c``) was built."""
    return _library() is not None


def native_preferred() -> bool:
    """True when the native kernel is built and faster than the conv route on this CPU:
    it needs AVX-512 (its 64-byte vectors in one register). Measured on a 2-core AMD EPYC
    with AVX2 only (c = 16, n = 8, depth 200, float32): the native route took 2.8 / 0.60 /
    4.7 s for orth / delta-orth / Gaussian against 1.2 / 0.21 / 1.1 s by the conv route
    (``python benchmarks/jacobian.py --rows peers``); with AVX-512 it was the faster one."""
    if _library() is None:
        return False
    from . import _kernel

    return bool(getattr(_kernel, "wide_vectors", 0))


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


def native_route(layer, shape: tuple[int, ...], dtype, device, native: bool | None = None) -> str:
    """How the engine pushes tangents through ``layer`` ((weight, bias), possibly a
    FactoredLayer) for images of ``shape`` (c, *n): ``"factored"`` (current Algorithm-1
    factors, :class:`NativePush`), ``"taps"`` (:class:`NativeTaps`) or ``"conv"`` (the
    portable route: not CPU, not 2D square, other c or dtype, or no library; or
    ``native`` False, or None where :func:`native_preferred` is False). The one place
    this is decided."""
    if native is False or (native is None and not native_preferred()):
        return "conv"
    dim = len(shape) - 1
    if dim == 2 and shape[-1] != shape[1]:  # non-square images
        return "conv"
    if native_supported(factors_of(layer), dtype, device, dim):
        return "factored"
    if native_shape_supported(layer[0].shape[0], dtype, device, dim):
        return "taps"
    return "conv"


def native_layer(layer, x: torch.Tensor, dtype, adjoint: bool = False):
    """The native push of ``layer`` for tangent images shaped like the primal ``x``
    (c, *n), by :func:`native_route`: a :class:`NativePush`, a :class:`NativeTaps`, or
    None (the conv route)."""
    route = native_route(layer, tuple(x.shape), dtype, x.device, native=True)
    if route == "factored":
        return NativePush(factors_of(layer), dtype, x.shape[-1], adjoint=adjoint)
    if route == "taps":
        return NativeTaps(layer[0], dtype, x.shape[-1], adjoint=adjoint)
    return None


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
        if (
            dtype not in (torch.float32, torch.float64)
            or factors.channels not in NATIVE_CHANNELS
            or factors.dim != 2
        ):
            raise ValueError(f"native push: 2D, float32/float64 and c in {NATIVE_CHANNELS} only")
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
        self.kind = "orth"
        self.key = ("orth", dtype, c, n, factors.kernel, factors.axes, adjoint)
        self.img = c * n * n

    def scratch(self) -> torch.Tensor:
        """A per-thread work area (4 images)."""
        return torch.empty(4 * self.img, dtype=self.dtype)

    def __call__(self, src, dst, dphi, lo: int, hi: int, scratch: torch.Tensor) -> None:
        """dst[lo:hi] = dphi * conv(src[lo:hi]); see :class:`NativeRun`."""
        NativeRun([self], [dphi])(src, dst, lo, hi, scratch)


@lru_cache(maxsize=64)
def _tap_maps(n: int, offsets: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """int32 (len(offsets), n^2): pixel p + o (circular) for each tap offset o."""
    idx = torch.arange(n * n).reshape(n, n)
    rows = [torch.roll(idx, shifts=(-a, -b), dims=(0, 1)).reshape(-1) for a, b in offsets]
    return torch.stack(rows).to(torch.int32).contiguous()


class NativeTaps:
    """One layer of a dense 2D kernel ``weight`` (c, c, k, k) prepared for the native
    kernel as its nonzero taps: the circular cross-correlation [T1]
    y(p) = sum_t W_t x(p + o_t), o_t = (a - r, b - r) mod n (taps that wrap onto one
    offset when k > n are summed first); a kernel with only its centre tap is one
    channel mix. ``adjoint``: y(p) = sum_t W_t^T x(p - o_t)
    (the VJP of [T23]). Calling it pushes batch rows through this layer alone (times
    ``dphi``); :class:`NativeRun` pushes runs of layers."""

    def __init__(self, weight: torch.Tensor, dtype, n: int, adjoint: bool = False) -> None:
        c = weight.shape[0]
        if (
            dtype not in (torch.float32, torch.float64)
            or c not in NATIVE_CHANNELS
            or weight.ndim != 4
            or weight.shape[1] != c
            or weight.shape[2] != weight.shape[3]
        ):
            raise ValueError(f"native taps: square 2D kernels, c in {NATIVE_CHANNELS} only")
        w = weight.detach().to(device="cpu", dtype=torch.float64)
        k = w.shape[-1]
        r = k // 2
        # taps that land on the same pixel (k > n: they wrap) are summed first, in float64:
        # one channel mix per distinct offset (mod n), and no float32 sum of aliases
        keep = (w != 0).any(dim=(0, 1))  # NaN counts as nonzero
        sign = -1 if adjoint else 1
        groups: dict[tuple[int, int], torch.Tensor] = {}
        for a in range(k):
            for b in range(k):
                if keep[a, b]:
                    o = ((sign * (a - r)) % n, (sign * (b - r)) % n)
                    groups[o] = groups[o] + w[:, :, a, b] if o in groups else w[:, :, a, b]
        if not groups:
            groups[(0, 0)] = torch.zeros_like(w[:, :, 0, 0])
        offsets = tuple(groups)
        # column k_in of the tap's matrix contiguous: W_t^T forward, (W_t^T)^T = W_t adjoint
        mats = [m if adjoint else m.T for m in groups.values()]
        self.mt = torch.stack(mats).to(dtype).contiguous()
        self.shifts = _tap_maps(n, offsets)
        self.dtype, self.channels, self.n = dtype, c, n
        self.kind = "taps"
        self.key = ("taps", dtype, c, n, offsets)
        self.img = c * n * n

    def scratch(self) -> torch.Tensor:
        """A per-thread work area (4 images, as :class:`NativePush`)."""
        return torch.empty(4 * self.img, dtype=self.dtype)

    def __call__(self, src, dst, dphi, lo: int, hi: int, scratch: torch.Tensor) -> None:
        """dst[lo:hi] = dphi * conv(src[lo:hi]); see :class:`NativeRun`."""
        NativeRun([self], [dphi])(src, dst, lo, hi, scratch)


class NativeRun:
    """Consecutive layers ``pushes`` (all :class:`NativePush` or all :class:`NativeTaps`
    with one ``key``: shape, dtype, kernel geometry, direction) with their phi'(h)
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
        if first.kind == "orth":
            self.ranks = torch.stack([p.ranks for p in pushes]).contiguous()
        cl = torch.channels_last
        self.d = torch.cat([d.contiguous(memory_format=cl) for d in dphis]).contiguous(
            memory_format=cl
        )
        bits = "f32" if first.dtype == torch.float32 else "f64"
        self.fn = getattr(_library(), f"{first.kind}_push_{bits}_c{first.channels}")
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
        args = [
            p(src[lo].data_ptr()),
            p(dst[lo].data_ptr()),
            hi - lo,
            f.n * f.n,
            self.layers,
            self.mt.shape[1],  # stages (orth) or taps
            p(self.mt.data_ptr()),
        ]
        if f.kind == "orth":
            args += [p(self.ranks.data_ptr()), p(f.shifts.data_ptr()), p(self.d.data_ptr())]
            args.append(p(f.out.data_ptr()))
        else:
            args += [p(f.shifts.data_ptr()), p(self.d.data_ptr())]
        self.fn(*args, p(scratch.data_ptr()))
