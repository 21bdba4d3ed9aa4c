"""The fast training route for the block of circular convolutions [T1]: a
``torch.autograd.Function`` over a native forward and backward
(``spectra/training/_train_kernel.c``, called through ctypes), with optional segment
recomputation.

The PyTorch route (:meth:`spectra.network.CircularConvBlock.forward`) builds, per layer, a
padded copy, a oneDNN convolution, a tanh and their autograd nodes; at c = 16, batch 50
and 7 x 7 maps these small operations run far below the machine's GEMM rate. The native
route keeps the activations channels-last, ``(B * n^d, c)``, and computes each layer as

    z[p] = b + sum_t W_t^T x[src(p, t)],   y = tanh(z)                       ([T1], [T2])

with ``src(p, t)`` the circularly shifted pixel of tap t (an index table, so any odd k, 1D
or 2D, and k > n aliasing all work), a few pixels' output channels held in vector
registers, and the bias and tanh applied in the same pass. Backward (the VJP of [T23])
forms dz = dy (1 - y^2) from the stored output, the weight gradient
gW_t = sum_p x[src(p, t)] dz[p]^T, the bias gradient sum_p dz[p], and the input gradient
as the same convolution with transposed weights over the inverse tables
``dst(q, t)`` (src(dst(q, t), t) = q).

Memory: the forward stores every layer's output, depth * B * n^d * c numbers (1.6 GB at
depth 10,000, batch 50, c = 16, float32). With ``segment=s`` it stores only every s-th
(the inputs of segments of s layers) and recomputes a segment's outputs in backward, one
segment at a time: about (depth / s + s) * B * n^d * c numbers for one extra forward pass.
Recomputation runs the same code on the same inputs, so the gradients are bit-identical
with and without it.

Sums run in a fixed order (no threads, no atomics): the same inputs give the same bits.
The route is used for float32/float64 tanh blocks on CPU with c in :data:`FAST_CHANNELS`
when the extension was built; otherwise :func:`circular_block` runs the PyTorch route.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

import torch

#: channel counts the native training kernel is compiled for (multiples of 8)
FAST_CHANNELS = (8, 16, 32, 64)
ROUTES = ("auto", "native", "torch")

_P, _L, _I = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
_FWD_ARGS = [_P, _P, _P, _P, _I, _L, _I, _I, _P, _I]
_BWD_ARGS = [_P, _P, _P, _P, _P, _P, _P, _I, _L, _I, _I, _P, _P, _P]


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    try:
        from . import _train_kernel
    except ImportError:
        return None
    lib = ctypes.CDLL(_train_kernel.__file__)
    for bits in ("f32", "f64"):
        for c in FAST_CHANNELS:
            getattr(lib, f"train_fwd_{bits}_c{c}").argtypes = _FWD_ARGS
            getattr(lib, f"train_bwd_{bits}_c{c}").argtypes = _BWD_ARGS
    return lib


def fast_available() -> bool:
    """True when the optional native training kernel (``_train_kernel.c``) was built."""
    return _library() is not None


@lru_cache(maxsize=16)
def tap_tables(n: int, dim: int, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """int32 ``(src, dst)``, each (n^dim, k^dim): ``src[p, t]`` the pixel that tap t of
    output pixel p reads under circular padding [T2] (taps in the weight's row-major
    (ky, kx) order, offset (ky - r, kx - r)); ``dst[q, t]`` the p with src[p, t] = q."""
    r = kernel // 2
    idx = torch.arange(n**dim).reshape((n,) * dim)
    src, dst = [], []
    offsets = torch.cartesian_prod(*[torch.arange(kernel)] * dim).reshape(-1, dim) - r
    for off in offsets.tolist():
        dims = tuple(range(dim))
        src.append(torch.roll(idx, shifts=tuple(-o for o in off), dims=dims).reshape(-1))
        dst.append(torch.roll(idx, shifts=tuple(off), dims=dims).reshape(-1))
    as_table = lambda cols: torch.stack(cols, 1).to(torch.int32).contiguous()  # noqa: E731
    return as_table(src), as_table(dst)


def native_applies(x: torch.Tensor, weight: torch.Tensor, activation_name: str) -> bool:
    """Whether the native route can run this block: CPU, float32/64, tanh, c compiled."""
    return (
        fast_available()
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and weight.dtype == x.dtype
        and activation_name == "tanh"
        and weight.shape[1] in FAST_CHANNELS
        and weight.shape[1] == weight.shape[2]
    )


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


class _NativeBlock(torch.autograd.Function):
    """(x (B, c, *n), weight (L, c, c, *k), bias (L, c), segment) -> (B, c, *n)."""

    @staticmethod
    def forward(ctx, x, weight, bias, segment):
        lib = _library()
        L, c = weight.shape[0], weight.shape[1]
        dim, k, n = weight.ndim - 3, weight.shape[-1], x.shape[-1]
        bits = "f64" if x.dtype == torch.float64 else "f32"
        fwd = getattr(lib, f"train_fwd_{bits}_c{c}")
        src, dst = tap_tables(n, dim, k)
        B, S, T = x.shape[0], n**dim, k**dim
        P = B * S
        perm = (0, *range(2, x.ndim), 1)
        x_cl = x.detach().permute(perm).reshape(P, c).contiguous()
        w = weight.detach().reshape(L, c, c, T).permute(0, 3, 2, 1).contiguous()  # [t][ci][co]
        b = bias.detach().contiguous()
        seg = L if not segment or segment >= L else int(segment)
        starts = list(range(0, L, seg))
        if seg == L:
            ys = x_cl.new_empty(L, P, c)
            fwd(_ptr(x_cl), _ptr(ys), _ptr(w), _ptr(b), L, B, S, T, _ptr(src), 1)
            out, saved = ys[-1], ys
        else:  # keep each segment's input; two scratch slots per segment
            bounds = x_cl.new_empty(len(starts), P, c)
            scratch = x_cl.new_empty(2, P, c)
            cur = x_cl
            for i, s0 in enumerate(starts):
                bounds[i].copy_(cur)
                nl = min(seg, L - s0)
                fwd(_ptr(cur), _ptr(scratch), _ptr(w[s0]), _ptr(b[s0]), nl, B, S, T,
                    _ptr(src), 0)  # fmt: skip
                cur = scratch[(nl - 1) % 2].clone()
            out, saved = cur, bounds
        ctx.save_for_backward(x_cl, saved, w, b)
        ctx.tables = (src, dst)
        ctx.meta = (B, S, T, c, L, seg, starts, bits, x.shape, perm)
        shape = (B, *x.shape[2:], c)
        inv = (0, x.ndim - 1, *range(1, x.ndim - 1))
        return out.reshape(shape).permute(inv).contiguous()

    @staticmethod
    def backward(ctx, gy):
        lib = _library()
        x_cl, saved, w, b = ctx.saved_tensors
        B, S, T, c, L, seg, starts, bits, xshape, perm = ctx.meta
        fwd = getattr(lib, f"train_fwd_{bits}_c{c}")
        bwd = getattr(lib, f"train_bwd_{bits}_c{c}")
        src, dst = ctx.tables
        P = B * S
        gcur = gy.permute(perm).reshape(P, c).contiguous()
        gw = w.new_empty(L, T, c, c)
        gb = w.new_empty(L, c)
        gx = w.new_empty(P, c)
        scratch = w.new_empty(2 * P * c + T * c * c)
        ys = saved if seg == L else w.new_empty(seg, P, c)
        for i in range(len(starts) - 1, -1, -1):
            s0 = starts[i]
            nl = min(seg, L - s0)
            xin = x_cl if seg == L else saved[i]
            if seg != L:  # recompute this segment's outputs from its stored input
                fwd(_ptr(xin), _ptr(ys), _ptr(w[s0]), _ptr(b[s0]), nl, B, S, T,
                    _ptr(src), 1)  # fmt: skip
            bwd(_ptr(xin), _ptr(ys), _ptr(gcur), _ptr(w[s0]), _ptr(gw[s0]), _ptr(gb[s0]),
                _ptr(gx), nl, B, S, T, _ptr(src), _ptr(dst), _ptr(scratch))  # fmt: skip
            gcur = gx.clone() if i else gx
        k = round(T ** (1 / (len(xshape) - 2)))
        kshape = (L, c, c) + (k,) * (len(xshape) - 2)
        g_weight = gw.permute(0, 3, 2, 1).reshape(kshape)
        inv = (0, len(xshape) - 1, *range(1, len(xshape) - 1))
        g_x = gcur.reshape(B, *xshape[2:], c).permute(inv)
        return g_x, g_weight, gb, None


def circular_block(block, x: torch.Tensor, *, route: str = "auto", segment: int = 0):
    """``block(x)`` for a :class:`spectra.network.CircularConvBlock`, by the native route
    where it applies (``route="auto"``), always (``"native"``: SpectraError if it cannot),
    or never (``"torch"``). ``segment``: recompute in segments of that many layers
    (0: store all; the torch route then uses ``torch.utils.checkpoint``)."""
    from ..errors import SpectraError

    ok = native_applies(x, block.weight, block.activation.name)
    if route == "native" and not ok:
        raise SpectraError(
            "the native training route needs the built extension, CPU, float32/64, tanh and "
            f"c in {FAST_CHANNELS}"
        )
    if route != "torch" and ok:
        w, b = block.weight, block.bias
        if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad or b.requires_grad):
            return _NativeBlock.apply(x, w, b, segment)
        with torch.no_grad():  # inference: two activation buffers, whatever the depth
            return _forward_only(x, w, b)
    if segment and segment < block.depth and torch.is_grad_enabled():
        return _torch_segments(block, x, segment)
    return block(x)


def _forward_only(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The block's output without storing activations (inference, evaluation)."""
    lib = _library()
    L, c = weight.shape[0], weight.shape[1]
    dim, k, n = weight.ndim - 3, weight.shape[-1], x.shape[-1]
    bits = "f64" if x.dtype == torch.float64 else "f32"
    src, _ = tap_tables(n, dim, k)
    B, S, T = x.shape[0], n**dim, k**dim
    perm = (0, *range(2, x.ndim), 1)
    x_cl = x.permute(perm).reshape(B * S, c).contiguous()
    w = weight.reshape(L, c, c, T).permute(0, 3, 2, 1).contiguous()
    b = bias.contiguous()
    ys = x_cl.new_empty(2, B * S, c)
    fwd = getattr(lib, f"train_fwd_{bits}_c{c}")
    fwd(_ptr(x_cl), _ptr(ys), _ptr(w), _ptr(b), L, B, S, T, _ptr(src), 0)
    inv = (0, x.ndim - 1, *range(1, x.ndim - 1))
    return ys[(L - 1) % 2].reshape(B, *x.shape[2:], c).permute(inv).contiguous()


def _torch_segments(block, x, segment):
    from torch.utils.checkpoint import checkpoint

    from ..network import circular_conv

    phi = block.activation.torch_phi

    def run(h, w, b):
        for wl, bl in zip(w.unbind(0), b.unbind(0), strict=True):
            h = phi(circular_conv(h, wl, bl))
        return h

    for s0 in range(0, block.depth, segment):
        w, b = block.weight[s0 : s0 + segment], block.bias[s0 : s0 + segment]
        x = checkpoint(run, x, w, b, use_reentrant=False)
    return x
