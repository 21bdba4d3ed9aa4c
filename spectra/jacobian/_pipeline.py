"""The one layer pipeline that every Jacobian route runs on (forward, stable, Lanczos).

For each layer of a stack, in order: the float64 primal step h = W * x + b, x <- phi(h)
[T1]; the route of its tangent push (the native kernel where it applies, else the conv
with the kernel in the conv's own memory layout); phi'(h) as a (1, c, *n) tensor in the
tangents' layout; whether the kernel is a delta (the 1x1 fast path); and, for the routes
that need J^T [T23], the adjoint push. :func:`runs` then splits a sequence of prepared
layers into the runs that are pushed together (consecutive native layers of one kind
form one :class:`NativeRun`). The engine and Lanczos differ only in what they do with
the prepared layers: the engine pushes a block and forgets it, Lanczos keeps them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ..activations import Activation
from ._native import NativePush, NativeTaps, native_layer, native_preferred

Layer = tuple[torch.Tensor, torch.Tensor]
_NATIVE = (NativePush, NativeTaps)


@dataclass
class Prepared:
    """One layer, ready to push: ``push`` (a conv kernel in ``dtype`` and the tangents'
    layout, or a native push), ``dphi`` phi'(h) (1, c, *n), ``delta`` (1x1 kernel),
    ``adjoint`` (the adjoint kernel or native push; None unless asked for)."""

    push: object
    dphi: torch.Tensor
    delta: bool
    adjoint: object = None

    @property
    def native(self) -> bool:
        return isinstance(self.push, _NATIVE)


def memory_format(dim: int) -> torch.memory_format:
    """The tangents' layout: channels-last for 2D images, plain for 1D."""
    return torch.channels_last if dim == 2 else torch.contiguous_format


def is_delta(w: torch.Tensor) -> bool:
    """True when every off-centre tap is exactly zero (then the conv is 1x1)."""
    if w.shape[-1] == 1:
        return True
    taps = torch.count_nonzero(w.reshape(w.shape[0] * w.shape[1], -1), dim=0)
    taps[(taps.numel() - 1) // 2] = 0  # the centre tap (odd k: the middle of k^d)
    return not bool(taps.any())


def primal_step(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, act: Activation):
    """One float64 primal layer: returns (phi(h), phi'(h)) for x (c, *n) [T1]."""
    from ..network import circular_conv

    h = circular_conv(x[None], w, b)[0]
    return act.torch_phi(h), act.torch_dphi(h)


def layers_on(stack, device) -> Iterator[Layer]:
    """The stack's layers in float64 on ``device``; factored ones keep their factors."""
    from ..kernels import FactoredLayer, factors_of

    for layer in stack.layers():
        factors = factors_of(layer)  # before the copy: None if the weight was modified
        w, b = (t.to(device=device, dtype=torch.float64) for t in layer)
        yield (w, b) if factors is None else FactoredLayer(w, b, factors)


class LayerPipeline:
    """Iterate :class:`Prepared` layers of ``layers`` from the float64 primal input ``x``
    (c, *n); ``self.x`` is the primal activation after the layers drawn so far.

    ``dtype``: the tangents' dtype; ``native``: take the native kernel where it applies
    (None: where it applies and :func:`native_preferred` says it is the faster route);
    ``adjoint``: also prepare each layer's adjoint push (the circular cross-correlation
    with the flipped, transposed kernel, or the native adjoint)."""

    def __init__(
        self,
        layers: Iterable[Layer],
        x: torch.Tensor,
        act: Activation,
        dtype,
        *,
        native: bool | None = None,
        adjoint: bool = False,
    ) -> None:
        self.layers, self.x, self.act, self.dtype = iter(layers), x, act, dtype
        self.native = native_preferred() if native is None else native
        self.adjoint = adjoint
        self.mf = memory_format(x.ndim - 1)

    def __iter__(self) -> LayerPipeline:
        return self

    def __next__(self) -> Prepared:
        layer = next(self.layers)
        w, b = layer
        self.x, d = primal_step(self.x, w, b, self.act)
        # phi' in the tangents' memory layout (a multiply across layouts was measured 20x
        # slower than within one)
        dphi = d.to(self.dtype)[None].contiguous(memory_format=self.mf)
        push = native_layer(layer, self.x, self.dtype) if self.native else None
        if push is not None:
            adj = native_layer(layer, self.x, self.dtype, adjoint=True) if self.adjoint else None
            return Prepared(push, dphi, False, adj)
        # kernels in the conv's own layout: oneDNN otherwise converts them per call
        w_t = w.to(self.dtype).contiguous(memory_format=self.mf)
        adj = None
        if self.adjoint:
            w_adj = w.transpose(0, 1).flip(tuple(range(2, w.ndim)))
            adj = w_adj.to(self.dtype).contiguous(memory_format=self.mf)
        return Prepared(w_t, dphi, is_delta(w_t), adj)


def runs(prepared: Sequence[Prepared]) -> list[tuple[int, int, bool]]:
    """(lo, hi, native) over ``prepared``: maximal runs of consecutive native layers of
    one key (pushed by one :class:`NativeRun` call) and of consecutive conv layers."""
    out, lo = [], 0
    key = lambda i: prepared[i].push.key if prepared[i].native else None  # noqa: E731
    while lo < len(prepared):
        hi = lo + 1
        while hi < len(prepared) and key(hi) == key(lo):
            hi += 1
        out.append((lo, hi, key(lo) is not None))
        lo = hi
    return out
