"""Matrix-free spectral density of J^T J by stochastic Lanczos quadrature (SLQ).

J = D^L W^L ... D^1 W^1 [T21] is never formed: ``J v`` is the forward tangent push of
[T22] and ``J^T u = W^1T D^1 ... W^LT D^L u`` the reverse (VJP, [T23]) push, where the
adjoint of a circular cross-correlation with W is the circular cross-correlation with
``W^T`` flipped in space. ``probes`` random unit vectors are run through ``steps`` Lanczos
iterations *in one batch* (one batched conv per layer for all probes), with full
re-orthogonalisation in float64. Each probe's tridiagonal matrix gives Ritz values
theta_k and weights tau_k (squared first eigenvector components); the average over probes
of sum_k tau_k delta(lambda - theta_k) is an unbiased estimate of the spectral measure of
J^T J (the law of s^2), exact in its first 2*steps - 1 moments per probe. The density is
that measure smoothed by a Gaussian in log lambda.

Memory: the weights and phi'(h^l) of all layers are held (O(L c^2 k^2 + L N)); time:
``steps * 2 * L`` batched convs of ``probes`` images, against ``L`` convs of ``N`` images
for the full spectrum.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class JacobianOperator:
    """``J v`` and ``J^T u`` for batches (p, c, *n) of a :class:`spectra.jacobian.ConvStack`.

    One streamed traversal at construction stores per layer W (in ``dtype``), its adjoint
    kernel, phi'(h^l) and whether the kernel is a delta (1x1 fast path). Where the native
    kernel applies (:mod:`spectra.native`: CPU, 2D square images, c in NATIVE_CHANNELS)
    layers are stored instead as native forward and adjoint pushes (orth layers with
    Algorithm 1's factors in factored form, the rest by their taps), and consecutive ones
    run as one :class:`NativeRun` per direction (batch slices on
    ``torch.get_num_threads()`` threads).
    """

    def __init__(self, stack, *, dtype=torch.float32, device=None, progress=None) -> None:
        from ._engine import _single_thread
        from ._native import NativeRun
        from ._pipeline import LayerPipeline, layers_on, runs

        self.device = torch.device(device or "cpu")
        self.dtype, self.stack = dtype, stack
        self.shape = (stack.channels,) + (stack.size,) * stack.dim
        x = stack.x0.to(device=self.device, dtype=torch.float64)
        pipe = LayerPipeline(
            layers_on(stack, self.device),
            x,
            stack.activation,
            dtype,
            native=stack.native,
            adjoint=True,
        )
        self.layers = []
        # drawing kernels and primal steps are tiny ops: one intra-op thread (measured
        # 28 s -> 3.8 s for 1000 orth layers at c = 64 on 2 cores)
        with _single_thread(self.device.type == "cpu"):
            for p in pipe:
                self.layers.append(p)
                if progress is not None:
                    progress(1)
        lay = self.layers
        self.ones = torch.ones_like(lay[0].dphi) if lay else None
        self.threads = torch.get_num_threads() if self.device.type == "cpu" else 1
        # (lo, hi, forward run, adjoint run): runs of native layers get NativeRuns (the
        # adjoint one in VJP order, each layer followed by the previous layer's phi'),
        # runs of conv layers None (pushed by :meth:`_push_all`)
        self.segments = []
        for lo, hi, native in runs(lay):
            if not native:
                self.segments.append((lo, hi, None, None))
                continue
            fwd = NativeRun(
                [lay[i].push for i in range(lo, hi)], [lay[i].dphi for i in range(lo, hi)]
            )
            order = list(reversed(range(lo, hi)))
            prev = [lay[i - 1].dphi if i > 0 else self.ones for i in order]
            adj = NativeRun([lay[i].adjoint for i in order], prev)
            self.segments.append((lo, hi, fwd, adj))
        # the runs hold the native layers' matrices now: drop the per-layer copies
        for p in lay:
            if p.native:
                p.push = p.adjoint = None

    def _run(self, run, t: torch.Tensor) -> torch.Tensor:
        """A native run on the batch ``t`` (p, c, n, n), slices on ``self.threads``."""
        from concurrent.futures import ThreadPoolExecutor

        t = t.contiguous(memory_format=torch.channels_last)
        out, p = torch.empty_like(t), t.shape[0]
        k = max(1, min(self.threads, p))
        edges = [round(i * p / k) for i in range(k + 1)]
        if k == 1:
            run(t, out, 0, p, run.scratch())
            return out
        with ThreadPoolExecutor(k - 1) as pool:
            futs = [
                pool.submit(run, t, out, edges[i], edges[i + 1], run.scratch()) for i in range(1, k)
            ]
            run(t, out, 0, edges[1], run.scratch())
            for f in futs:
                f.result()
        return out

    def _push_all(self, t: torch.Tensor, seq) -> torch.Tensor:
        """Push the batch ``t`` through ``seq`` of (kernel, phi' (1, c, *n), is_delta):
        t <- phi' * conv(t; kernel), by the forward engine's halo buffers [T22]."""
        from ._engine import _Tangents

        st = _Tangents(t, self.stack.kernel)
        b = t.shape[0]
        for w, d, delta in seq:
            st.prepare(delta)
            st.push(w, d, delta, 0, b)
            st.flip()
        return st.result()

    def jvp(self, v: torch.Tensor) -> torch.Tensor:
        """J v for v of shape (p, c, *n): v <- D^l W^l v for l = 1..L [T21]."""
        t = v.to(self.dtype)
        for lo, hi, fwd, _ in self.segments:
            if fwd is not None:
                t = self._run(fwd, t)
            else:
                t = self._push_all(t, ((p.push, p.dphi, p.delta) for p in self.layers[lo:hi]))
        return t

    def vjp(self, u: torch.Tensor) -> torch.Tensor:
        """J^T u for u of shape (p, c, *n). J^T = W^1T D^1 ... W^LT D^L, pushed as
        u <- D^L u, then u <- D^(l-1) W^lT u for l = L..1 (D^0 = I): the same
        conv-then-multiply step as :meth:`jvp`, with the adjoint kernels."""
        lay = self.layers
        u = u.to(self.dtype) * lay[-1].dphi
        for lo, hi, _, adj in reversed(self.segments):
            if adj is not None:
                u = self._run(adj, u)
                continue
            seq = (
                (lay[i].adjoint, lay[i - 1].dphi if i > 0 else self.ones, lay[i].delta)
                for i in reversed(range(lo, hi))
            )
            u = self._push_all(u, seq)
        return u

    def gram(self, v: torch.Tensor) -> torch.Tensor:
        """J^T J v (float64 in and out, ``dtype`` inside)."""
        return self.vjp(self.jvp(v)).to(torch.float64)


def lanczos_density(
    stack,
    *,
    dtype=torch.float32,
    device=None,
    steps: int = 40,
    probes: int = 4,
    seed: int = 0,
    bandwidth: float | None = None,
    grid_points: int = 400,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, dict]:
    """SLQ density of the eigenvalues lambda = s^2 of J^T J (see module docstring).

    Returns ``(density, info)``: ``density`` has ``lambda`` (grid, float64),
    ``density`` (per unit lambda), ``ritz_log_lambda``, ``ritz_weight`` (the discrete SLQ
    measure, weights summing to 1); ``info`` has ``n`` (N), ``mean_sq``, ``var_sq``
    (moments of the SLQ measure: Hutchinson estimates of tr(J^T J)/N etc.),
    ``lambda_max``, ``lambda_min``, ``steps``, ``probes``, ``bandwidth`` (in log lambda).
    ``progress`` counts layer passes: L to store the layers, then 2 L per step.
    ``workers``: threads over probe chunks, one intra-op thread each (default 1: all
    probes in one batch with torch's intra-op threads, measured 1.1-1.9x faster than two
    chunks on 2 cores for c = 64-128, where per-op overhead dominates the tiny batches).
    """
    from ._engine import _threads
    from ._slq import slq_density

    dev = torch.device(device or "cpu")
    n_feat = stack.n_features
    with _threads(dev, workers or 1) as nw:
        op = JacobianOperator(stack, dtype=dtype, device=dev, progress=progress)
        pool = None
        if nw > 1 and probes > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(min(nw, probes))

        def apply(fn, x: torch.Tensor) -> torch.Tensor:
            x = x.reshape((x.shape[0], *op.shape))
            if pool is None:
                out = fn(x)
            else:
                out = torch.cat(list(pool.map(fn, x.chunk(min(nw, probes)))))
            return out.reshape(x.shape[0], n_feat).to(torch.float64)

        def on_step() -> None:
            if progress is not None:
                progress(2 * stack.depth)

        try:
            return slq_density(
                lambda v: apply(op.jvp, v),
                lambda u: apply(op.vjp, u),
                n_feat,
                n_feat,
                steps=steps,
                probes=probes,
                seed=seed,
                bandwidth=bandwidth,
                grid_points=grid_points,
                device=dev,
                on_step=on_step,
            )
        finally:
            if pool is not None:
                pool.shutdown()
