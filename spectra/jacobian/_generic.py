"""Jacobian spectra of any PyTorch model or function of one tensor ([T21]-[T24]).

``J = d f(x) / d x`` (N_out x N_in, flattened in C order) at the input ``x``, where ``f``
is a module, a callable, or a list of callables applied in turn (an ``nn.Sequential``
is taken as the list of its children). Nothing here assumes circular convs: zero padding,
strides, pooling, BatchNorm (in eval mode), residual blocks and linear heads are all just
functions that ``torch.func`` differentiates.

- ``forward`` [T22]: the identity of R^N_in pushed by ``torch.func.jvp`` under ``vmap`` in
  chunks of tangents whose size comes from a memory budget, giving J^T row block by row
  block; then one SVD. Peak memory: J, its SVD copy and one chunk.
- ``stable`` [T24]: for a list of stages f = f_L o ... o f_1, an orthonormal tangent basis
  Q (N_l x k) is pushed stage by stage, ``A_l Q = Q' R``, with R absorbed in the log
  domain (:class:`LogTriangular`). Rectangular stages: where a stage widens (N_l >= k)
  the reduced QR keeps k columns and nothing changes; where it narrows (N_l < k: a
  stride, a pooling, a head) the rank of J drops to N_l, and the basis is reduced
  exactly: X = A_l Q diag(e^ell) C (N_l x k, formed scaled by e^-max ell) is factored
  as X = L P^T (P orthonormal rows, by a QR of X^T), so sv(... X) = sv(... L), and
  L = Q' R' restarts the log-domain product at size N_l. The reduction forms X in
  float64, so singular values more than ~1/eps below the largest at a narrowing point
  keep only absolute accuracy there; everything before and after it stays exact to
  rounding in the log domain. The min(N_in, N_out) - k values lost to narrowing are
  exact zeros (returned as log 0 = -inf).
- ``lanczos``: stochastic Lanczos quadrature (:mod:`spectra.jacobian._slq`) on
  ``torch.func.jvp`` and ``torch.func.vjp`` products, batched over probes by ``vmap``.
- ``auto``: ``lanczos`` when J has more than ``FULL_SVD_MAX_N``^2 entries, else
  ``forward`` in the input's dtype, re-run (``stable`` for a list of stages, else
  ``forward`` in float64) when the a posteriori check fails, with the reason recorded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import SpectraError

Fn = Callable[[torch.Tensor], torch.Tensor]
#: Default memory budget (bytes) for the forward route: J, one SVD copy and the chunks.
MEMORY_BUDGET = 2 * 1024**3


class _Stop(Exception):
    """Raised by the output hook to cut the forward pass at the named module."""


def _truncated(model: torch.nn.Module, name: str) -> Fn:
    """x -> the output of ``model.get_submodule(name)`` during ``model(x)`` (the rest of
    the forward pass is cut short)."""
    sub = _submodule(model, name)

    def f(x: torch.Tensor) -> torch.Tensor:
        box: list = []

        def hook(_m, _i, out):
            box.append(out)
            raise _Stop

        h = sub.register_forward_hook(hook)
        try:
            model(x)
        except _Stop:
            pass
        finally:
            h.remove()
        if not box:
            raise SpectraError(f"module {name!r} was not called by the model's forward pass")
        return box[0]

    return f


def _submodule(model: torch.nn.Module, name: str) -> torch.nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_children()]
        raise SpectraError(
            f"no module {name!r} in the model; its top-level modules are {', '.join(names)}"
        ) from None


def as_stages(model, output: str | None = None) -> list[Fn]:
    """The stages f_1..f_L of ``model``: an ``nn.Sequential``'s children (up to the one
    holding ``output``), a list/tuple of callables as given, anything else one stage.
    ``output``: a module name (``model.get_submodule`` syntax, e.g. ``layer2`` or
    ``layer2.0.conv1``); the map then ends at that module's output."""
    if isinstance(model, (list, tuple)):
        if output is not None:
            raise SpectraError("output= needs a module, not a list of callables")
        if not model:
            raise SpectraError("need at least one stage")
        return list(model)
    if isinstance(model, torch.nn.Sequential):
        kids = list(model.named_children())
        if output is None:
            return [m for _, m in kids]
        _submodule(model, output)  # one-line error for a bad name
        head = output.split(".")[0]
        for i, (n, m) in enumerate(kids):
            if n == head:
                last = m if n == output else _truncated(m, output[len(n) + 1 :])
                return [k for _, k in kids[:i]] + [last]
    if output is not None:
        return [_truncated(model, output)]
    return [model]


def _compose(stages: Sequence[Fn]) -> Fn:
    def f(x):
        for s in stages:
            x = s(x)
        return x

    return f


def _push(f: Fn, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """J_f(x) t for a batch of tangents t (b, *x.shape) -> (b, *f(x).shape) [T22]."""

    def one(v):
        return torch.func.jvp(f, (x,), (v,))[1]

    return torch.func.vmap(one)(t)


def _out_numel(f: Fn, x: torch.Tensor) -> tuple[int, list[int]]:
    """N_out of ``f`` at ``x`` and the sizes of every module output on the way."""
    sizes: list[int] = []
    hooks = []
    for m in f.modules() if isinstance(f, torch.nn.Module) else ():
        hooks.append(m.register_forward_hook(lambda _m, _i, o: sizes.append(_numel(o))))
    try:
        with torch.no_grad():
            out = f(x)
    finally:
        for h in hooks:
            h.remove()
    return out.numel(), sizes


def _numel(o) -> int:
    return o.numel() if torch.is_tensor(o) else 0


def chunk_size(f: Fn, x: torch.Tensor, budget: int = MEMORY_BUDGET) -> int:
    """Tangents per forward chunk so that J (N_out x N_in), one SVD copy of it and the
    chunk fit in ``budget`` bytes. One tangent's cost is taken as (N_in + N_out + 4 x the
    largest module output) elements: the tangent, its result, and the live intermediates
    of a residual block (input, branch, skip, sum). Raises if J alone does not fit."""
    n_in = x.numel()
    n_out, sizes = _out_numel(f, x)
    item = x.element_size()
    left = budget - 2 * n_in * n_out * item
    per = (n_in + n_out + 4 * max(sizes + [n_in, n_out])) * item
    if left < per:
        raise SpectraError(
            f"the Jacobian ({n_out} x {n_in}) and its SVD need "
            f"{2 * n_in * n_out * item / 2**30:.2f} GiB, over the {budget / 2**30:.2f} GiB "
            "budget; use method='lanczos'"
        )
    return int(max(1, min(n_in, left // per)))


def model_jacobian(
    f: Fn, x: torch.Tensor, *, budget: int = MEMORY_BUDGET, chunk: int | None = None
) -> torch.Tensor:
    """J (N_out, N_in) in ``x``'s dtype by chunked forward mode [T22], memory-bounded."""
    x = x.detach()
    n_in = x.numel()
    k = chunk or chunk_size(f, x, budget)
    rows = None
    with torch.no_grad():
        for lo in range(0, n_in, k):
            hi = min(n_in, lo + k)
            t = torch.zeros((hi - lo, n_in), dtype=x.dtype, device=x.device)
            t[:, lo:hi] = torch.eye(hi - lo, dtype=x.dtype, device=x.device)
            jt = _push(f, x, t.reshape((hi - lo, *x.shape))).reshape(hi - lo, -1)
            del t
            if rows is None:
                rows = torch.empty((jt.shape[1], n_in), dtype=x.dtype, device=x.device)
            rows[:, lo:hi] = jt.T
            del jt
    return rows


def _log_svd(j: torch.Tensor) -> np.ndarray:
    s = torch.linalg.svdvals(j).to(torch.float64).cpu().numpy()
    with np.errstate(divide="ignore"):
        return np.sort(np.log(s))[::-1].copy()


def model_stable_spectrum(stages: Sequence[Fn], x: torch.Tensor) -> tuple[np.ndarray, dict]:
    """log singular values (descending, min(N_in, N_out) of them) of the Jacobian of
    ``f_L o ... o f_1`` at ``x`` by stage-wise discrete QR in the log domain [T24], float64
    (the stages must accept float64 input). See the module docstring for narrowing stages."""
    from ._stable import LogTriangular, jacobi_log_singular_values, qr_positive

    x = x.detach().to(torch.float64)
    n_in = x.numel()
    q = torch.eye(n_in, dtype=torch.float64, device=x.device)
    lt = LogTriangular(n_in, device=x.device)
    narrowed, widths = 0, []
    with torch.no_grad():
        for stage in stages:
            k = q.shape[1]
            aq = _push(stage, x, q.T.reshape((k, *x.shape))).reshape(k, -1).T
            x = stage(x)
            widths.append(aq.shape[0])
            if aq.shape[0] < k:
                aq, lt = _narrow(aq, lt)
                narrowed += 1
            q, r = qr_positive(aq)
            # an exactly singular stage (a dead ReLU pattern) leaves a zero pivot: keep
            # it finite (1e-300, i.e. log s ~ -690) rather than poison the product
            r.diagonal().clamp_(min=1e-300)
            lt.absorb(r)
    info: dict = {}
    logs = jacobi_log_singular_values(lt, info=info)
    n = min(n_in, x.numel())
    logs = np.concatenate([logs, np.full(n - logs.size, -np.inf)])
    return logs, {"stages": len(widths), "narrowing_stages": narrowed, "rank_bound": lt.C.shape[0]}


def _narrow(aq: torch.Tensor, lt):
    """Reduce X = aq diag(e^ell) C (m x k, m < k) to an m x m factor: X = L P^T with P^T
    orthonormal rows (QR of X^T), so later singular values are those of ``... L``.
    Returns (L, a fresh LogTriangular of size m carrying the scale e^max ell)."""
    from ._stable import LogTriangular, qr_positive

    top = lt.ell.max()
    x = (aq * torch.exp(lt.ell - top)[None, :]) @ lt.C
    _, r = qr_positive(x.T)  # X^T = P R  ->  X = R^T P^T
    fresh = LogTriangular(aq.shape[0], device=aq.device)
    fresh.ell += top
    return r.T, fresh


def model_operator(f: Fn, x: torch.Tensor) -> tuple[Callable, Callable, int, int]:
    """(matvec, rmatvec, N_in, N_out) of J_f(x) on batches of flat float64 vectors
    (p, N_in) <-> (p, N_out), by ``torch.func.jvp`` and one reusable ``torch.func.vjp``
    under ``vmap`` [T22], [T23]; the products run in ``x``'s dtype."""
    x = x.detach()
    out, vjp_fn = torch.func.vjp(f, x)
    shape_out = out.shape

    def matvec(v):
        t = v.to(x.dtype).reshape((v.shape[0], *x.shape))
        with torch.no_grad():
            return _push(f, x, t).reshape(v.shape[0], -1).to(torch.float64)

    def rmatvec(u):
        t = u.to(x.dtype).reshape((u.shape[0], *shape_out))
        return torch.func.vmap(vjp_fn)(t)[0].reshape(u.shape[0], -1).detach().to(torch.float64)

    return matvec, rmatvec, x.numel(), out.numel()


def model_spectrum(
    model,
    x: torch.Tensor,
    method: str = "auto",
    *,
    output: str | None = None,
    budget: int = MEMORY_BUDGET,
    lanczos_options: dict | None = None,
):
    """Singular values of the Jacobian of ``model`` at ``x`` (or, for ``lanczos``, the
    density of s^2) as a :class:`SpectrumResult`; ``output`` names the module whose output
    ends the map. ``forward`` runs in ``x``'s dtype (float32/float64; the model's
    parameters must match), ``stable`` in float64 (the model is cast to float64 copies if
    it is a module). ``budget``: bytes for the forward route (:func:`chunk_size`)."""
    from ._slq import slq_density
    from ._spectrum import FULL_SVD_MAX_N, METHODS, SpectrumResult, _resolution_nats

    if method not in METHODS or method == "dense":
        allowed = [m for m in METHODS if m != "dense"]
        raise SpectraError(f"unknown method {method!r}; choose one of {', '.join(allowed)}")
    t0 = time.perf_counter()
    stages = as_stages(model, output)
    f = _compose(stages) if len(stages) > 1 else stages[0]
    x = x.detach()
    n_in = x.numel()
    n_out, _ = _out_numel(f, x)
    reason = f"requested {method}"
    if method == "auto" and n_in * n_out > FULL_SVD_MAX_N**2:
        method = "lanczos"
        reason = f"auto: J is {n_out} x {n_in}, more than {FULL_SVD_MAX_N}^2 entries"
    base = {"n_in": n_in, "n_out": n_out, "stages": len(stages)}
    if method == "lanczos":
        mv, rmv, _, _ = model_operator(f, x)
        dens, info = slq_density(mv, rmv, n_in, n_out, device=x.device, **(lanczos_options or {}))
        secs = time.perf_counter() - t0
        return SpectrumResult(None, "lanczos", reason, x.dtype, secs, {**base, **info}, dens)
    if method == "stable":
        logs, info = model_stable_spectrum(_float64(model, output), x)
        secs = time.perf_counter() - t0
        return SpectrumResult(logs, "stable", reason, torch.float64, secs, {**base, **info})
    logs = _log_svd(model_jacobian(f, x, budget=budget))
    if method == "auto":
        fin = logs[np.isfinite(logs)]
        spread = float(fin.max() - fin.min()) if fin.size else math.inf
        limit = _resolution_nats(x.dtype)
        if fin.size < logs.size or spread > limit:
            why = f"spread {spread:.1f} nats > {limit:.1f} resolvable in {x.dtype}"
            if len(stages) > 1:
                logs, info = model_stable_spectrum(_float64(model, output), x)
                base.update(info)
                method, reason = "stable", f"auto: forward {why}; re-ran stable"
                return SpectrumResult(
                    logs, method, reason, torch.float64, time.perf_counter() - t0, base
                )
            if x.dtype != torch.float64:
                f64 = _float64(model, output)[0]
                logs = _log_svd(model_jacobian(f64, x.to(torch.float64), budget=budget))
                reason = f"auto: forward {why}; re-ran forward in float64"
                secs = time.perf_counter() - t0
                return SpectrumResult(logs, "forward", reason, torch.float64, secs, base)
            reason = f"auto: forward ({why}; a single stage, so no stable re-run)"
        else:
            reason = f"auto: forward (spread {spread:.1f} nats within {limit:.1f})"
    return SpectrumResult(logs, "forward", reason, x.dtype, time.perf_counter() - t0, base)


def _float64(model, output: str | None) -> list[Fn]:
    """The stages of a float64 copy of ``model`` (modules in a list are copied one by
    one; other callables are taken as they are and must accept float64)."""
    import copy

    def dbl(m):
        return copy.deepcopy(m).double() if isinstance(m, torch.nn.Module) else m

    if isinstance(model, (list, tuple)):
        return [dbl(m) for m in model]
    return as_stages(dbl(model), output)
