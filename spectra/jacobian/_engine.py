"""The per-layer machinery of the Jacobian engine: tangent pushes [T22], threads, buffers.

Internal to :mod:`spectra.jacobian` and :mod:`spectra.lanczos`. What was measured on the
2-core machine and shaped these choices (c = 16, n = 8, B = 1024 tangents, float32):

- oneDNN's conv is fastest on channels-last tensors (1.9 ms per layer, the GEMM peak);
  the tangents live in two preallocated circular-halo buffers and phi'(h) is multiplied
  straight into the next one's interior (:class:`_Tangents`), no padding pass;
- a kernel whose off-centre taps are all zero is one (B n^2, c) x (c, c) GEMM;
- on quiet cores the whole batch with OpenMP's threads is fastest, but OpenMP's barrier
  collapses (10-16x slower) when other processes share the cores, where batch slices
  pushed by a thread pool with one intra-op thread each degrade gracefully: the engine
  measures both and chooses (:class:`_Engine`);
- the per-layer primal step and weight draws are tiny ops, 2-3x slower under two OpenMP
  threads: they run single-threaded, a block of layers at a time (:meth:`_Engine.run`);
- glibc returns the large per-layer buffers to the OS and page-faults them back unless
  its mmap/trim thresholds are raised (:func:`tune_allocator`);
- on CPU for 2D square images with c in spectra.native.NATIVE_CHANNELS, layers skip all
  of the above: orth layers carrying Algorithm 1's factors and every other kernel (by
  its taps) go through the native kernel, runs of up to ``block`` layers per call with
  each image in L1 (:mod:`spectra.native`; 1.5-2.5x the conv route here).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ..activations import Activation
from ._native import NativeRun
from ._pipeline import Layer, LayerPipeline, memory_format, runs


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


class _Tangents:
    """The tangent batch (B, c, *n), pushed layer by layer [T22], whole or by batch slices.

    The tangents live in the interior of one of two preallocated halo buffers (channels-
    last in 2D, oneDNN's fast layout): a layer is one conv reading buffer ``i`` and one
    multiply by phi'(h) written straight into the interior of buffer ``1 - i``, then
    the (36% smaller) halo is refreshed by copies. Compared with copying the tangents
    into a halo buffer before each conv, this saves one full pass over the batch per
    layer (measured 2.2 vs 2.4 ms per layer at B = 1024, c = 16, n = 8, float32).
    Delta kernels (all off-centre taps zero) are one (B n^d, c) x (c, c) GEMM between two
    plain buffers instead; the state moves between the two forms only when the kernel
    kind changes. Kernels wider than the image (r > n, taps alias) take the plain form and
    :func:`spectra.network.circular_conv` (an index-gather pad).
    Batch slices are contiguous views of the same buffers, so threads can push disjoint
    slices of one layer concurrently (:meth:`push`), then :meth:`flip` once.
    """

    def __init__(self, t: torch.Tensor, k: int) -> None:
        self.dim, self.r, self.n = t.ndim - 2, k // 2, t.shape[-1]
        self.mf = memory_format(self.dim)
        self.like = dict(dtype=t.dtype, device=t.device, memory_format=self.mf)
        # a copy: the buffers are overwritten in turn and must not alias the caller's t
        self.plain = [t.clone(memory_format=self.mf), None]
        self.halo: list[torch.Tensor] = []
        self.form, self.i = "plain", 0
        self.wide = self.r > self.n

    # ------------------------------------------------------------------ the two forms
    def _interior(self, b: torch.Tensor) -> torch.Tensor:
        r, n = self.r, self.n
        return b[..., r : r + n] if self.dim == 1 else b[:, :, r : r + n, r : r + n]

    def _fill_halo(self, b: torch.Tensor) -> None:
        r, n = self.r, self.n
        if self.dim == 1:
            b[..., :r] = b[..., n : n + r]
            b[..., r + n :] = b[..., r : 2 * r]
            return
        b[:, :, :r, r : r + n] = b[:, :, n : n + r, r : r + n]
        b[:, :, r + n :, r : r + n] = b[:, :, r : 2 * r, r : r + n]
        b[:, :, :, :r] = b[:, :, :, n : n + r]
        b[:, :, :, r + n :] = b[:, :, :, r : 2 * r]

    def prepare(self, delta: bool, native: bool = False) -> None:
        """Move the state into the form the next layer needs (halo for a k x k conv,
        plain for a delta kernel, a native push or r > n). Called once per
        layer, before any push."""
        want = "plain" if delta or native or self.wide else "halo"
        if want == "plain" and self.plain[1 - self.i] is None:
            self.plain[1 - self.i] = torch.empty_like(
                self.plain[self.i] if self.form == "plain" else self._interior(self.halo[self.i]),
                memory_format=self.mf,
            )
        if want == self.form:
            return
        if want == "halo":
            t = self.plain[self.i]
            if not self.halo:
                shape = t.shape[:2] + (self.n + 2 * self.r,) * self.dim
                self.halo = [torch.empty(shape, **self.like) for _ in range(2)]
            self._interior(self.halo[self.i]).copy_(t)
            self._fill_halo(self.halo[self.i])
            self.plain = [None, None]  # memory: only one form's buffers are held
        else:
            self.plain[self.i] = self._interior(self.halo[self.i]).contiguous(memory_format=self.mf)
            self.halo = []
        self.form = want

    # ------------------------------------------------------------------ one layer
    def push(self, w, dphi: torch.Tensor, delta: bool, lo: int, hi: int, scratch=None) -> None:
        """Batch rows lo:hi of T <- phi'(h) * conv(T; W); ``dphi`` (1, c, *n) in this
        batch's memory layout; ``w`` the kernel in the conv's layout, or a
        :class:`spectra.native.NativeRun` of one or more layers (plain form; ``scratch``
        its work area, one per concurrent caller). Writes buffer ``1 - i`` only."""
        src, j = self.i, 1 - self.i
        if isinstance(w, NativeRun):  # dphi: inside the run
            sc = w.scratch() if scratch is None else scratch
            w(self.plain[src], self.plain[j], lo, hi, sc)
            return
        if self.form == "halo":
            conv = F.conv1d if self.dim == 1 else F.conv2d
            out = conv(self.halo[src][lo:hi], w)
            dst = self.halo[j][lo:hi]
            torch.mul(out, dphi, out=self._interior(dst))
            self._fill_halo(dst)
            return
        t, dst = self.plain[src][lo:hi], self.plain[j]
        if self.wide and not delta:
            from ..network import circular_conv

            torch.mul(circular_conv(t, w), dphi, out=dst[lo:hi])
            return
        centre = w[(slice(None), slice(None)) + (self.r,) * self.dim]
        if self.dim == 2:  # channels-last (B, n, n, c) is one (B n^2, c) GEMM
            c = t.shape[1]
            a = t.permute(0, 2, 3, 1).reshape(-1, c)
            o = dst[lo:hi].permute(0, 2, 3, 1)
            torch.mm(a, centre.T, out=o.reshape(-1, w.shape[0]))
            o.mul_(dphi.permute(0, 2, 3, 1))
        else:
            torch.matmul(centre, t, out=dst[lo:hi])
            dst[lo:hi].mul_(dphi)

    def flip(self) -> None:
        """After every slice of a layer is pushed: the output buffer becomes the state."""
        self.i = 1 - self.i

    def result(self) -> torch.Tensor:
        if self.form == "halo":
            return self._interior(self.halo[self.i]).contiguous()
        return self.plain[self.i].contiguous()


class _Engine:
    """The tangent batch pushed either whole with all intra-op threads ("serial",
    OpenMP inside each op) or as ``chunks`` batch slices pushed concurrently by a thread
    pool with one intra-op thread each ("pool").

    Tangent columns are independent [T22], and a slice gives the same numbers as the
    whole batch, bit for bit (tested). Which mode is faster depends on the machine's
    load: on 2 quiet cores "serial" was ~10% faster, but OpenMP's barrier collapsed
    (10-16x slower) whenever other processes shared the cores, where the pool degrades
    gracefully. So the engine measures: every ``probe_every`` layers it runs a few
    layers in the other mode and compares the median wall time per layer of the last
    ``probe_len`` layers in each; it uses the pool only when that is clearly faster
    (``prefer_serial``). On a GPU there is one chunk and no threads.
    """

    probe_every, probe_len = 256, 6
    #: layers whose weights and primal steps are prepared together (see :meth:`run`)
    block = 32
    #: the pool must beat serial by this factor: timings on a shared 2-core machine are
    #: noisy (+-30% layer to layer), and the pool is only much faster under contention.
    prefer_serial = 0.8

    def __init__(
        self,
        t: torch.Tensor,
        k: int,
        dtype,
        chunks: int,
        threads: int = 1,
        native: bool | None = None,
    ) -> None:
        self.k, self.futs, self.scratch, self.native = k, None, None, native
        self.load(t)
        b = t.shape[0]
        # slices of >= 2 rows: oneDNN takes another kernel for a batch of one, whose
        # float32 bits differ from the batched one (slices must match the whole batch)
        chunks = max(1, min(chunks, b // 2))
        edges = [round(i * b / chunks) for i in range(chunks + 1)]
        self.slices = list(zip(edges[:-1], edges[1:], strict=True))
        self.threads = max(1, threads)
        self.pool = None
        self.adaptive = len(self.slices) > 1 and t.device.type == "cpu"
        self.mode = "serial" if self.adaptive or len(self.slices) == 1 else "pool"
        self.times: dict[str, list[float]] = {"serial": [], "pool": []}
        self.layer, self.last = 0, None
        self._set_threads()

    def load(self, t: torch.Tensor) -> None:
        """Start over from the tangents ``t`` (same shape), keeping the mode, its timings
        and the pool (the stable method pushes a new Q every group of layers)."""
        self._wait()
        self.state = _Tangents(t, self.k)
        self.mf = self.state.mf

    def _set_threads(self) -> None:
        if self.adaptive:
            torch.set_num_threads(self.threads if self.mode == "serial" else 1)

    def _choose(self) -> None:
        """Record the last layer's wall time; switch modes for probes and decisions."""
        import time

        now = time.perf_counter()
        if self.last is not None:
            self.times[self.mode].append(now - self.last)
            del self.times[self.mode][: -self.probe_len]
        self.last = now
        self.layer += 1
        phase = self.layer % self.probe_every
        other = "pool" if self.mode == "serial" else "serial"
        if phase == self.probe_len:  # start a probe of the other mode
            new = other
        elif phase == 2 * self.probe_len + 1 and self.times[other]:  # probe done: decide
            med = {m: sorted(v)[len(v) // 2] for m, v in self.times.items()}
            new = "pool" if med["pool"] < self.prefer_serial * med["serial"] else "serial"
        else:
            return
        if new != self.mode:
            self._wait()
            self.mode = new
            self._set_threads()
            if new == "serial" and self.pool is not None:
                # idle pool threads were measured to slow OpenMP ops by ~25%: retire them
                self.pool.shutdown()
                self.pool = None
            self.last = None  # the switch itself is not timed

    def _push(self, w, dphi: torch.Tensor, delta: bool) -> None:
        """Queue one layer (``dphi`` (1, c, *n) in the batch's layout). In pool mode this
        returns at once; the previous layer is awaited first."""
        if self.adaptive:
            self._choose()
        self._wait()
        st = self.state
        st.prepare(delta)
        if self.mode == "serial":
            st.push(w, dphi, delta, 0, self.slices[-1][1])
            st.flip()
            return
        self._submit(st.push, [(w, dphi, delta, lo, hi) for lo, hi in self.slices])

    def _submit(self, fn, calls) -> None:
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(len(self.slices))
        self.futs = [self.pool.submit(fn, *args) for args in calls]

    def _push_native(self, w: NativeRun) -> None:
        """A run of native layers (factored orth or taps, :mod:`spectra.native`): the native
        kernel, which holds the GIL for none of its
        work, on every batch slice at once (one pool thread each; no intra-op threads, so
        no mode choice). The same bits for any slicing: images are independent."""
        self._wait()
        self.last = None  # not a conv layer's time for the serial/pool chooser
        st = self.state
        st.prepare(False, native=True)
        if (
            self.scratch is None
            or self.scratch[0].numel() != 4 * w.img
            or self.scratch[0].dtype != w.first.dtype
        ):
            self.scratch = [w.scratch() for _ in self.slices]
        if len(self.slices) == 1:
            st.push(w, None, False, *self.slices[0], self.scratch[0])
            st.flip()
            return
        args = [
            (w, None, False, lo, hi, sc)
            for (lo, hi), sc in zip(self.slices, self.scratch, strict=True)
        ]
        self._submit(st.push, args)

    def run(
        self,
        layers: Iterator[Layer],
        x: torch.Tensor,
        act: Activation,
        dtype,
        progress=None,
        limit: int | None = None,
    ) -> tuple[torch.Tensor, int]:
        """Push the tangents through ``layers`` (float64 weights and biases) from the
        float64 primal input ``x``; returns (the primal output, layers done). At most
        ``limit`` layers are drawn (None: all).

        Works in blocks of ``block`` layers: first the block's weights are drawn and its
        primal steps computed with ONE intra-op thread (those are tiny ops, measured
        2-3x slower under OpenMP's two threads: 0.26 vs 0.09 ms per layer), then its
        tangent pushes run in the current mode. Memory: one block of weights and
        phi'(h), independent of depth."""
        done = 0
        pipe = LayerPipeline(layers, x, act, dtype, native=self.native)
        while limit is None or done < limit:
            want = self.block if limit is None else min(self.block, limit - done)
            with _single_thread(self.adaptive and self.threads > 1 and self.mode == "serial"):
                block = list(itertools.islice(pipe, want))
            if not block:
                break
            self.last = None  # the block's primal steps are not a layer's push time
            for lo, hi, native in runs(block):
                if native:  # consecutive native layers: one run
                    seq = block[lo:hi]
                    self._push_native(NativeRun([p.push for p in seq], [p.dphi for p in seq]))
                    if progress is not None:
                        progress(hi - lo)
                    continue
                for p in block[lo:hi]:
                    self._push(p.push, p.dphi, p.delta)
                    if progress is not None:
                        progress(1)
            done += len(block)
            if len(block) < want:
                break
        return pipe.x, done

    def _wait(self) -> None:
        if self.futs:
            for f in self.futs:
                f.result()
            self.futs = None
            self.state.flip()

    def result(self, close: bool = True) -> torch.Tensor:
        """T after the layers pushed so far; ``close``: also retire the thread pool."""
        self._wait()
        if close:
            self.close()
        return self.state.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


class _single_thread:
    """Context: one intra-op thread inside (when ``active``), the previous count after."""

    def __init__(self, active: bool) -> None:
        self.active = active

    def __enter__(self) -> None:
        if self.active:
            self.old = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc) -> None:
        if self.active:
            torch.set_num_threads(self.old)


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Context: full float32 in GPU convs and matmuls (TF32's 10-bit mantissa off), as
    the engine computes; the previous settings after. No effect on CPUs."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class _threads:
    """Context: on CPU, one intra-op thread per worker; full float32 on GPUs
    (:func:`exact_float32`). Restores both settings after."""

    def __init__(self, device: torch.device, workers: int | None) -> None:
        self.cpu = device.type == "cpu"
        self.old = torch.get_num_threads()
        self.workers = (workers or self.old) if self.cpu else 1

    def __enter__(self) -> int:
        if self.cpu and self.workers > 1:
            torch.set_num_threads(1)
        self.exact = exact_float32()
        self.exact.__enter__()
        return self.workers

    def __exit__(self, *exc) -> None:
        if self.cpu:
            torch.set_num_threads(self.old)
        self.exact.__exit__(None, None, None)
