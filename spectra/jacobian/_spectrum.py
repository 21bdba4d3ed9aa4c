"""Singular values of the input-output Jacobian of deep circular CNNs (theory [T21]-[T24]).

``J = D^L W^L ... D^1 W^1`` (N x N, N = c n^d) at the input ``x^0``. Methods:

- ``forward`` [T22]: the tangent batch ``T^0 = I_N`` (N images) pushed through the layers,
  ``T^l = phi'(h^l) * conv(T^{l-1}; W^l)``, one batched circular conv per layer (a kernel
  whose off-centre taps are all zero is done as a 1x1 channel contraction). Layers are
  streamed: memory is O(N^2), independent of depth. Then one SVD of the N x N result.
- ``dense``: explicit ``D^l M^l`` products with ``M^l`` from
  :func:`spectra.operators.conv_matrix` [T5], float64; the reference for small N.
- ``stable`` [T24]: discrete QR with log-domain scales, exact singular values (and their
  logs even beyond float64 range); see :mod:`spectra.jacobian_stable`.
- ``lanczos``: matrix-free density of J^T J by stochastic Lanczos quadrature with JVP and
  VJP products only; see :mod:`spectra.lanczos`.
- ``auto``: ``lanczos`` when N is too large for a full SVD, else ``forward``, re-run
  with ``stable`` when the a posteriori check fails (the log-spread of the computed
  singular values approaches the dtype's resolution, or any value is 0 / not finite).

:func:`singular_values` accepts any torch module or function of one tensor: a fast path
for :class:`spectra.network.CircularConvBlock`, ``VanillaCNN`` (its block),
``nn.Sequential`` of circular stride-1 convs and elementwise activations; otherwise the
generic routes of :mod:`spectra.jacobian._generic` (any model, chunked forward mode,
stage-wise stable, Lanczos on torch.func).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..activations import Activation, get_activation
from ..errors import SpectraError
from ._engine import _Engine, _threads
from ._pipeline import layers_on

METHODS = ("auto", "forward", "dense", "stable", "lanczos")
#: auto switches to lanczos above this N (a full SVD of a 4096^2 matrix takes ~10 s here).
FULL_SVD_MAX_N = 4096
#: dense method refuses N above this (N^2 float64 per layer product).
DENSE_MAX_N = 2048

Layer = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ConvStack:
    """A depth-L stack of circular convs + activation, as the Jacobian engine sees it.

    ``layers()`` returns a fresh iterator of ``(weight (c, c, *k), bias (c,))`` for layers
    1..L (so the stack can be streamed and re-traversed); ``x0`` is the input (c, *n);
    ``activation`` phi [T1]. ``depth``, ``channels``, ``size``, ``kernel``, ``dim`` describe
    the shape; ``N = channels * size**dim``. ``native``: whether layers go through the
    optional native kernel where it applies: None (default) where it is the faster route
    on this CPU (``native_preferred()``), True wherever it applies, False never (the
    portable conv route). The numbers are the same to rounding either way.
    """

    layers: Callable[[], Iterable[Layer]]
    x0: torch.Tensor
    activation: Activation
    depth: int
    kernel: int
    native: bool | None = None

    @property
    def channels(self) -> int:
        return self.x0.shape[0]

    @property
    def dim(self) -> int:
        return self.x0.ndim - 1

    @property
    def size(self) -> int:
        return self.x0.shape[-1]

    @property
    def n_features(self) -> int:
        return self.x0.numel()

    @classmethod
    def from_layers(cls, layers: Sequence[Layer], x0: torch.Tensor, activation="tanh") -> ConvStack:
        """From a list of (weight, bias) pairs held in memory."""
        layers = list(layers)
        if not layers:
            raise SpectraError("need at least one layer")
        return cls(
            lambda: iter(layers),
            x0,
            get_activation(activation),
            len(layers),
            layers[0][0].shape[-1],
        )

    @classmethod
    def from_block(cls, block, x0: torch.Tensor) -> ConvStack:
        """From a :class:`spectra.network.CircularConvBlock` at input ``x0`` (c, *n)."""
        return cls.from_layers(block.layers(), x0, block.activation)

    @classmethod
    def from_spec(
        cls, spec, x0: torch.Tensor, activation="tanh", seed: int = 0, gen_device=None
    ) -> ConvStack:
        """Streamed from a :class:`spectra.network.BlockSpec`; layers are re-drawn from
        ``seed`` on every traversal (O(1) memory in depth). ``gen_device``: where the
        generator draws (default CPU; 'cuda' draws orth kernels with GPU QRs, other
        numbers from the same law)."""
        from ..network import iter_block_layers

        def layers() -> Iterator[Layer]:
            g = torch.Generator(device=gen_device or "cpu").manual_seed(seed)
            return iter_block_layers(spec, generator=g, dtype=torch.float64)

        return cls(layers, x0, get_activation(activation), spec.depth, spec.kernel)


@dataclass
class SpectrumResult:
    """Singular values of J: ``log_singular_values`` (natural log, float64, descending,
    exact even where exp under/overflows), ``method`` used, ``reason`` (why auto chose
    it), ``dtype`` of the computation, ``seconds``, ``info`` extras. For lanczos, the
    density instead (``density``: a DataFrame-ready dict) and no singular values."""

    log_singular_values: np.ndarray | None
    method: str
    reason: str
    dtype: torch.dtype
    seconds: float
    info: dict = field(default_factory=dict)
    density: dict | None = None

    @property
    def singular_values(self) -> np.ndarray:
        return np.exp(self.log_singular_values)


# --------------------------------------------------------------------------- forward
def _chunks(n_feat: int, nw: int, workers: int | None) -> int:
    """Tangent chunks: one per worker thread, but a single chunk for small N (N < 256),
    where thread hand-offs cost more than the layer itself. Whether the chunks run one
    after another with all intra-op threads or concurrently with one each is decided
    by measurement as the layers go (:class:`spectra.jacobian_engine._Engine`)."""
    if workers is not None:
        return max(1, workers)
    return nw if n_feat >= 256 else 1


def jacobian_forward(
    stack: ConvStack,
    *,
    dtype=torch.float32,
    device=None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """J^T as an (N, N) tensor in ``dtype`` by batched forward mode [T22].

    Row e is T^L[e] = J e_e flattened (C order, [T5]); singular values of J^T are those of
    J. The primal pass runs in float64 alongside; memory O(N^2), independent of depth.
    ``workers``: CPU threads over tangent chunks (default: torch's thread count).
    """
    device = torch.device(device or "cpu")
    n_feat = stack.n_features
    c, dim, n = stack.channels, stack.dim, stack.size
    ctx = _threads(device, max(2, workers or 2))
    with ctx as nw:
        t = torch.eye(n_feat, dtype=dtype, device=device).reshape((n_feat, c) + (n,) * dim)
        eng = _Engine(
            t, stack.kernel, dtype, _chunks(n_feat, nw, workers), ctx.old, native=stack.native
        )
        del t
        x = stack.x0.to(device=device, dtype=torch.float64)
        eng.run(layers_on(stack, device), x, stack.activation, dtype, progress)
        return eng.result().reshape(n_feat, n_feat)


# --------------------------------------------------------------------------- dense
def jacobian_dense(
    stack: ConvStack, *, device=None, progress: Callable[[int], None] | None = None
) -> torch.Tensor:
    """J (N, N) float64 as the explicit product of ``diag(phi'(h^l)) conv_matrix(W^l)``
    [T5], [T21]. The reference for small N (refuses N > 2048)."""
    from ..operators import conv_matrix

    n_feat = stack.n_features
    if n_feat > DENSE_MAX_N:
        raise SpectraError(f"dense method needs N <= {DENSE_MAX_N}, got N = {n_feat}")
    device = torch.device(device or "cpu")
    j = torch.eye(n_feat, dtype=torch.float64, device=device)
    x = stack.x0.to(device=device, dtype=torch.float64)
    for w, b in layers_on(stack, device):
        m = conv_matrix(w, stack.size)
        h = m @ x.reshape(-1) + b.repeat_interleave(stack.size**stack.dim)
        d = stack.activation.torch_dphi(h)
        j = d[:, None] * (m @ j)
        x = stack.activation.torch_phi(h).reshape(x.shape)
        if progress is not None:
            progress(1)
    return j


# --------------------------------------------------------------------------- stable
def stable_spectrum(
    stack: ConvStack,
    *,
    device=None,
    group: int | None = None,
    max_group_spread: float = 8.0,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """log singular values (descending) by discrete QR in the log domain [T24], float64.

    The layers are streamed once; each group of layers is applied to the columns of Q by
    the same batched pusher as ``forward``. See :mod:`spectra.jacobian_stable`.
    """
    from ._stable import stable_log_singular_values

    device = torch.device(device or "cpu")
    n_feat, c, n, dim = stack.n_features, stack.channels, stack.size, stack.dim
    it = layers_on(stack, device)
    state = {"x": stack.x0.to(device=device, dtype=torch.float64)}

    ctx = _threads(device, max(2, workers or 2))
    with ctx as nw:
        nw, threads = _chunks(n_feat, nw, workers), ctx.old

        def apply_group(q: torch.Tensor, m: int) -> tuple[torch.Tensor, int]:
            # columns of Q are tangents: T = Q^T viewed as N images; one engine for all
            # groups, so its choice of threads (and its timings) carries over
            t = q.T.reshape((n_feat, c) + (n,) * dim)
            if "eng" not in state:
                state["eng"] = _Engine(
                    t, stack.kernel, torch.float64, nw, threads, native=stack.native
                )
            else:
                state["eng"].load(t)
                state["eng"]._set_threads()  # adaptive: its mode's count (pool: 1 each)
            eng = state["eng"]
            state["x"], done = eng.run(it, state["x"], stack.activation, torch.float64, limit=m)
            if done != m:
                raise SpectraError(f"the stack ended after {done} of {m} layers")
            out = eng.result(close=False).reshape(n_feat, n_feat).T
            if eng.adaptive:
                # the group's QR and triangular update are big LAPACK/BLAS calls: all
                # threads (they ran on one whenever the engine was in pool mode: 119 vs
                # 74 ms per 1024^2 QR). A one-chunk engine (N < 256) keeps one thread
                # throughout, so its bytes do not depend on the machine's thread count.
                torch.set_num_threads(threads)
            return out, m

        try:
            return stable_log_singular_values(
                apply_group,
                n_feat,
                stack.depth,
                device=device,
                group=group,
                max_group_spread=max_group_spread,
                progress=progress,
            )
        finally:
            if "eng" in state:
                state["eng"].close()


# --------------------------------------------------------------------------- auto + api
def _resolution_nats(dtype) -> float:
    """log(1/eps) of a dtype minus a safety margin: the log-spread a plain product can
    resolve with a few correct digits at the bottom (float32 9.0, float64 29.1 nats)."""
    eps = torch.finfo(dtype).eps
    return math.log(1.0 / eps) - math.log(1e3)


def _log_svdvals(m: torch.Tensor) -> np.ndarray:
    """Sorted-descending natural logs of the singular values of ``m``. Up to N = 2048 on
    CPU with one thread: measured 0.3 s for 1024^2 vs 0.8-6 s with two contended threads."""
    one = m.device.type == "cpu" and m.shape[0] <= 2048
    with _threads(m.device, 2 if one else 1):
        s = torch.linalg.svdvals(m).to(torch.float64).cpu().numpy()
    with np.errstate(divide="ignore"):
        return np.sort(np.log(s))[::-1].copy()


def spectrum(
    stack: ConvStack,
    method: str = "auto",
    *,
    dtype=torch.float32,
    device=None,
    progress: Callable[[int], None] | None = None,
    lanczos_options: dict | None = None,
) -> SpectrumResult:
    """Every singular value of J (or, for ``lanczos``, the density of J^T J) by ``method``.

    ``progress(k)`` is called with the number of layers just done (auto may traverse the
    stack twice: forward then stable). Returns a :class:`SpectrumResult` whose ``reason``
    says why auto chose what it chose.
    """
    if method not in METHODS:
        raise SpectraError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    t0 = time.perf_counter()
    n_feat = stack.n_features
    reason = f"requested {method}"
    if method == "auto" and n_feat > FULL_SVD_MAX_N:
        method = "lanczos"
        reason = f"auto: N = {n_feat} > {FULL_SVD_MAX_N}, too large for a full SVD"
    if method == "lanczos":
        from ._lanczos import lanczos_density

        dens, info = lanczos_density(
            stack, dtype=dtype, device=device, progress=progress, **(lanczos_options or {})
        )
        return SpectrumResult(None, "lanczos", reason, dtype, time.perf_counter() - t0, info, dens)
    if method == "dense":
        logs = _log_svdvals(jacobian_dense(stack, device=device, progress=progress))
        return SpectrumResult(logs, "dense", reason, torch.float64, time.perf_counter() - t0)
    if method == "stable":
        logs, info = stable_spectrum(stack, device=device, progress=progress)
        return SpectrumResult(logs, "stable", reason, torch.float64, time.perf_counter() - t0, info)
    logs = _log_svdvals(jacobian_forward(stack, dtype=dtype, device=device, progress=progress))
    if method == "forward":
        return SpectrumResult(logs, "forward", reason, dtype, time.perf_counter() - t0)
    # auto: a posteriori accuracy check of the forward answer
    spread = float(logs[0] - logs[-1]) if np.all(np.isfinite(logs)) else math.inf
    res = _resolution_nats(dtype)
    name = str(dtype).replace("torch.", "")
    if spread < res:
        why = f"auto: forward {name} log-spread {spread:.3g} nats < resolution {res:.3g}"
        return SpectrumResult(
            logs, "forward", why, dtype, time.perf_counter() - t0, {"spread": spread}
        )
    why = f"auto: forward {name} log-spread {spread:.3g} nats >= resolution {res:.3g}; "
    res64 = _resolution_nats(torch.float64)
    if dtype != torch.float64 and spread < res64 - 2.0:
        # a float64 product resolves it (no QR needed): re-run forward in float64, check again
        logs = _log_svdvals(
            jacobian_forward(stack, dtype=torch.float64, device=device, progress=progress)
        )
        sp64 = float(logs[0] - logs[-1]) if np.all(np.isfinite(logs)) else math.inf
        if sp64 < res64:
            why += f"re-ran forward float64 (log-spread {sp64:.3g} < {res64:.3g})"
            return SpectrumResult(
                logs, "forward", why, torch.float64, time.perf_counter() - t0, {"spread": sp64}
            )
        why += f"forward float64 log-spread {sp64:.3g} >= {res64:.3g}; "
    logs, info = stable_spectrum(stack, device=device, progress=progress)
    why += "re-ran stable (discrete QR, float64)"
    return SpectrumResult(logs, "stable", why, torch.float64, time.perf_counter() - t0, info)


def generic_jacobian(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The (out, in) Jacobian matrix of any function of one tensor via ``torch.func.jacfwd``."""
    with torch.no_grad():
        j = torch.func.jacfwd(f)(x)
    return j.reshape(-1, x.numel())


def _as_stack(f, x: torch.Tensor) -> ConvStack | None:
    """A ConvStack for the fast path, or None if ``f`` is not a recognised conv stack."""
    from torch import nn

    from ..network import CircularConvBlock, VanillaCNN

    x0 = x.detach()
    if isinstance(f, VanillaCNN):
        f = f.block
    if isinstance(f, CircularConvBlock):
        if x0.ndim == f.dim + 2 and x0.shape[0] == 1:
            x0 = x0[0]
        if x0.ndim != f.dim + 1 or x0.shape[0] != f.channels:
            return None
        return ConvStack.from_block(f, x0)
    if isinstance(f, nn.Sequential):
        acts = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Identity: "linear"}
        mods = list(f)
        if len(mods) % 2 or not mods:
            return None
        layers, act = [], None
        for conv, a in zip(mods[::2], mods[1::2], strict=True):
            ok = (
                isinstance(conv, (nn.Conv1d, nn.Conv2d))
                and conv.padding_mode == "circular"
                and all(s == 1 for s in conv.stride)
                and all(d == 1 for d in conv.dilation)
                and conv.groups == 1
                and conv.in_channels == conv.out_channels
                and len(set(conv.kernel_size)) == 1
                and conv.kernel_size[0] % 2 == 1
                and all(p == conv.kernel_size[0] // 2 for p in conv.padding)
                and type(a) in acts
                and (act is None or acts[type(a)] == act)
            )
            if not ok:
                return None
            act = acts[type(a)]
            w = conv.weight.detach()
            b = conv.bias.detach() if conv.bias is not None else torch.zeros(w.shape[0])
            layers.append((w, b))
        if x0.ndim == layers[0][0].ndim and x0.shape[0] == 1:
            x0 = x0[0]
        if x0.ndim != layers[0][0].ndim - 1:
            return None
        return ConvStack.from_layers(layers, x0, act)
    return None


def singular_values(
    f: Callable[[torch.Tensor], torch.Tensor] | torch.nn.Module,
    x: torch.Tensor,
    *,
    method: str = "auto",
) -> torch.Tensor:
    """All singular values of the Jacobian of ``f`` at ``x``, sorted descending.

    Fast path (methods forward/dense/stable/auto) when ``f`` is a CircularConvBlock, a
    VanillaCNN (its block: ``x`` is then the block input, (c, *n) or (1, c, *n)), or an
    ``nn.Sequential`` of circular stride-1 convs and Tanh/ReLU/Identity; computed in
    ``x``'s dtype (float64 for stable/dense). Anything else: the generic routes of
    :func:`spectra.jacobian.model_spectrum` (auto/forward/stable; an ``nn.Sequential`` is
    pushed child by child for stable), or one ``torch.func.jacfwd`` and an SVD (dense).
    Values that underflow float64 come back as 0; use :func:`spectrum` for their logs.
    """
    if method not in METHODS or method == "lanczos":
        raise SpectraError(
            f"method {method!r} not available here; choose auto, forward, dense or stable"
        )
    stack = _as_stack(f, x)
    if stack is None:
        xx = x.detach()
        if method == "dense":
            s = torch.linalg.svdvals(generic_jacobian(f, xx))
            return torch.sort(s, descending=True).values
        from ._generic import model_spectrum

        res = model_spectrum(f, xx, method)
        return torch.from_numpy(np.exp(res.log_singular_values)).to(res.dtype)
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    res = spectrum(stack, method, dtype=dtype, device=x.device)
    out = torch.from_numpy(np.exp(res.log_singular_values))
    return out.to(device=x.device, dtype=res.dtype)
