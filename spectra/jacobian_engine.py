"""The per-layer machinery of the Jacobian engine: tangent pushes [T22], threads, buffers.

Internal to :mod:`spectra.jacobian` and :mod:`spectra.lanczos`. What was measured on the
2-core machine and shaped these choices:

- oneDNN's conv is fastest on channels-last tensors; the circular halo is copied into a
  preallocated channels-last buffer (no per-layer padding allocation);
- phi'(h) is multiplied in the same memory layout as the conv output (a broadcast across
  layouts was ~20x slower than the multiply itself);
- a kernel whose off-centre taps are all zero is one (B n^2, c) x (c, c) GEMM;
- OpenMP's two-thread barrier collapses (10-16x slower) when other processes share the
  two cores, so the tangent batch is split into chunks pushed by a thread pool, one
  intra-op thread each; the main thread draws the next layer meanwhile;
- glibc returns the large per-layer buffers to the OS and page-faults them back unless
  its mmap/trim thresholds are raised (:func:`tune_allocator`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .activations import Activation

__all__ = ["tune_allocator"]

Layer = tuple[torch.Tensor, torch.Tensor]


def tune_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds so the per-layer 4-40 MB buffers are reused
    instead of mmap'ed and page-faulted each layer (measured ~1/3 faster here). Process-
    wide; called by the CLI and benchmarks only. Returns True if it took effect."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 1 << 30)) and bool(libc.mallopt(-1, 1 << 31))
    except (OSError, AttributeError):
        return False


# --------------------------------------------------------------------------- layer kernels
def _is_delta(w: torch.Tensor) -> bool:
    """True when every off-centre tap is exactly zero (then the conv is 1x1)."""
    k = w.shape[-1]
    if k == 1:
        return True
    r = k // 2
    mask = torch.ones(w.shape[2:], dtype=torch.bool, device=w.device)
    mask[(r,) * (w.ndim - 2)] = False
    return not bool(w[:, :, mask].any())


class _Pusher:
    """Pushes a tangent batch T (B, c, *n) through one layer: phi'(h) * conv(T; W) [T22].

    Keeps a preallocated halo buffer (channels-last in 2D: oneDNN's fast layout) so the
    per-layer cost is one copy into the buffer, one conv, one in-place multiply by
    phi'(h) held in the same memory layout (a broadcast multiply across layouts was
    measured 20x slower). A kernel with zero off-centre taps is a 1x1 contraction.
    """

    def __init__(self, batch: int, c: int, n: int, dim: int, k: int, dtype, device) -> None:
        self.dim, self.r, self.n = dim, k // 2, n
        self.buf = None
        self.mf = torch.channels_last if dim == 2 else torch.contiguous_format
        if self.r and self.r <= n:
            shape = (batch, c) + (n + 2 * self.r,) * dim
            self.buf = torch.empty(shape, dtype=dtype, device=device, memory_format=self.mf)

    def _pad(self, t: torch.Tensor) -> torch.Tensor:
        r, n, b = self.r, self.n, self.buf
        if b is None or b.shape[0] != t.shape[0]:
            from .network import circular_pad

            return circular_pad(t, r, self.dim)
        if self.dim == 1:
            b[..., r : r + n] = t
            b[..., :r] = t[..., n - r :]
            b[..., r + n :] = t[..., :r]
            return b
        b[:, :, r : r + n, r : r + n] = t
        b[:, :, :r, r : r + n] = t[:, :, n - r :, :]
        b[:, :, r + n :, r : r + n] = t[:, :, :r, :]
        b[:, :, :, :r] = b[:, :, :, n : n + r]
        b[:, :, :, r + n :] = b[:, :, :, r : 2 * r]
        return b

    def conv(self, t: torch.Tensor, w: torch.Tensor, delta: bool) -> torch.Tensor:
        """conv(T; W) without bias, (B, c_in, *n) -> (B, c_out, *n)."""
        if delta:
            centre = w[(slice(None), slice(None)) + (self.r,) * self.dim]
            if self.dim == 2:  # channels-last (B, n, n, c) is one (B n^2, c) GEMM
                tl = t.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
                out = tl.reshape(-1, tl.shape[-1]) @ centre.T
                return out.reshape(*tl.shape[:3], w.shape[0]).permute(0, 3, 1, 2)
            return torch.matmul(centre, t)
        conv = F.conv1d if self.dim == 1 else F.conv2d
        return conv(self._pad(t), w)

    def step(self, t: torch.Tensor, w: torch.Tensor, dphi: torch.Tensor, delta: bool):
        out = self.conv(t, w, delta).contiguous(memory_format=self.mf)
        return out.mul_(dphi[None].contiguous(memory_format=self.mf))


class _Engine:
    """The tangent batch split into ``workers`` chunks, each pushed by its own thread.

    Tangent columns are independent [T22], so chunks never talk to each other. On CPU
    the engine runs with one intra-op thread per worker: OpenMP's two-thread barrier
    collapsed (10-16x slower) whenever other processes shared the 2 cores, while a
    thread pool over chunks degrades gracefully; on a quiet machine both use 2 cores.
    """

    def __init__(self, t: torch.Tensor, k: int, dtype, workers: int) -> None:
        dim = t.ndim - 2
        self.dim, self.r = dim, k // 2
        c, n = t.shape[1], t.shape[-1]
        workers = max(1, min(workers, t.shape[0]))
        self.chunks = [x.contiguous() for x in t.chunk(workers)]
        if dim == 2:
            self.chunks = [x.contiguous(memory_format=torch.channels_last) for x in self.chunks]
        self.pushers = [_Pusher(x.shape[0], c, n, dim, k, dtype, t.device) for x in self.chunks]
        self.pool = None
        if len(self.chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(len(self.chunks))

    def step(self, w: torch.Tensor, dphi: torch.Tensor) -> None:
        """Queue one layer. With a pool this returns at once (the caller draws the next
        layer's weights and primal meanwhile); the previous layer is awaited first."""
        delta = _is_delta(w)
        if self.pool is None:
            self.chunks[0] = self.pushers[0].step(self.chunks[0], w, dphi, delta)
            return
        self._wait()
        self.futs = [
            self.pool.submit(p.step, x, w, dphi, delta)
            for p, x in zip(self.pushers, self.chunks, strict=True)
        ]

    def _wait(self) -> None:
        if getattr(self, "futs", None):
            self.chunks = [f.result() for f in self.futs]
            self.futs = None

    def result(self) -> torch.Tensor:
        self._wait()
        out = torch.cat([x.contiguous() for x in self.chunks])
        if self.pool is not None:
            self.pool.shutdown()
        return out


class _threads:
    """Context: on CPU, one intra-op thread per worker; on GPU, TF32 off (full float32
    convs). Restores both settings after."""

    def __init__(self, device: torch.device, workers: int | None) -> None:
        self.cpu = device.type == "cpu"
        self.old = torch.get_num_threads()
        self.workers = (workers or self.old) if self.cpu else 1

    def __enter__(self) -> int:
        if self.cpu and self.workers > 1:
            torch.set_num_threads(1)
        # exact float32 on GPUs: no TF32 (10-bit mantissa) in convs or matmuls
        self.tf32 = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return self.workers

    def __exit__(self, *exc) -> None:
        if self.cpu:
            torch.set_num_threads(self.old)
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self.tf32


def _primal_step(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, act: Activation):
    """One float64 primal layer: returns (phi(h), phi'(h)) for x (c, *n) [T1]."""
    from .network import circular_conv

    h = circular_conv(x[None], w, b)[0]
    return act.torch_phi(h), act.torch_dphi(h)


def _layers_on(stack, device) -> Iterator[Layer]:
    for w, b in stack.layers():
        yield w.to(device=device, dtype=torch.float64), b.to(device=device, dtype=torch.float64)
