"""The paper's vanilla CNN: a small stem, ``depth`` circular convolutions, a linear head.

Architecture (Xiao et al. 2018, Sec. 5; the theory page [T1]-[T3]):

- **stem**: three 3x3 (1D: 3-tap) convolutions with strides 1, 2, 2 taking ``in_channels``
  up to ``channels``, each followed by the activation. The stem uses **zero** padding 1
  (it is not part of the Jacobian analysis; zero padding lets the strided convs halve
  any image size: 28 -> 28 -> 14 -> 7, 32 -> 32 -> 16 -> 8).
- **block** (:class:`CircularConvBlock`): ``depth`` stride-1 convolutions with **circular**
  padding [T1], ``x^l = phi(W^l * x^{l-1} + b^l)``, mapping ``(B, c, n, n) -> (B, c, n, n)``.
  This is the map whose input-output Jacobian [T21] :mod:`spectra.jacobian` analyses.
- **head**: global average pool and a linear layer to ``num_classes`` logits.

Initialisation is by name (``gaussian``, ``orth``, ``delta-orth``, ``gs0`` ... ``gs4``,
see :func:`spectra.kernels.conv_kernel`) at an operating point (sigma_w, sigma_b) or q*,
resolved by :func:`spectra.meanfield.operating_point` (default: the critical point with
q* = 1/depth). Weights are drawn in float64 and cast, so float32 and float64 networks
built from the same seed hold the same numbers up to rounding.

Random draws happen in a fixed order from one ``torch.Generator``: first the block
(per layer: kernel, then bias), then the stem, then the head. Hence the block of
``VanillaCNN(..., generator=g)`` equals the layers of :func:`iter_block_layers` with a
generator seeded the same way, which is how the Jacobian engine can stream a
depth-10,000 block layer by layer without ever holding all of its weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .activations import Activation, get_activation
from .errors import SpectraError, check_choice

__all__ = [
    "VanillaCNN",
    "CircularConvBlock",
    "BlockSpec",
    "circular_pad",
    "circular_conv",
    "iter_block_layers",
    "fixed_point_input",
    "INPUT_SCALINGS",
]


def circular_pad(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Wrap-around pad the last ``dim`` axes of ``x`` by ``r`` on each side [T1], [T2].

    Done by concatenation (measured faster than ``F.pad(mode='circular')`` here), with an
    index gather when ``r`` exceeds the size (taps then alias, as [T5] says).
    """
    if r == 0:
        return x
    for axis in range(x.ndim - dim, x.ndim):
        n = x.shape[axis]
        if r <= n:
            x = torch.cat([x.narrow(axis, n - r, r), x, x.narrow(axis, 0, r)], dim=axis)
        else:
            idx = torch.arange(-r, n + r, device=x.device) % n
            x = x.index_select(axis, idx)
    return x


def circular_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None):
    """Circular, stride-1 cross-correlation [T1]: ``x`` (B, c_in, *n), ``weight``
    (c_out, c_in, *k) with odd k -> (B, c_out, *n). Equals ``F.conv2d(F.pad(x, r,
    'circular'), weight)`` [T2]."""
    dim = weight.ndim - 2
    r = (weight.shape[-1] - 1) // 2
    conv = F.conv1d if dim == 1 else F.conv2d
    return conv(circular_pad(x, r, dim), weight, bias)


@dataclass(frozen=True)
class BlockSpec:
    """Everything that defines the block of circular convs, short of the random draws.

    ``channels`` c, ``size`` n (spatial), ``kernel`` k (odd), ``dim`` 1 or 2, ``init`` name,
    operating point ``sigma_w``, ``sigma_b``. ``N = c * n**dim`` is the Jacobian's size.
    """

    depth: int
    channels: int
    size: int
    kernel: int = 3
    dim: int = 2
    init: str = "delta-orth"
    sigma_w: float = 1.0
    sigma_b: float = 0.0

    def __post_init__(self) -> None:
        validate_block(self.depth, self.channels, self.size, self.kernel, self.dim)

    @property
    def n_features(self) -> int:
        return self.channels * self.size**self.dim


def validate_block(depth: int, channels: int, size: int, kernel: int, dim: int) -> None:
    """Raise a one-line :class:`SpectraError` for an impossible block shape."""
    if depth < 1:
        raise SpectraError(f"depth must be >= 1, got {depth}")
    if channels < 1:
        raise SpectraError(f"channels must be >= 1, got {channels}")
    if size < 1:
        raise SpectraError(f"size must be >= 1, got {size}")
    if kernel < 1 or kernel % 2 == 0:
        raise SpectraError(f"kernel must be a positive odd integer, got {kernel}")
    if dim not in (1, 2):
        raise SpectraError(f"dim must be 1 or 2, got {dim}")


def iter_block_layers(
    spec: BlockSpec, *, generator: torch.Generator | None = None, dtype=torch.float64
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(weight, bias)`` for layers 1..depth, drawn lazily in float64 then cast.

    weight: (c, c, *(k,)*dim) from :func:`spectra.kernels.conv_kernel` at ``sigma_w`` [T3],
    [T8], [T9]; bias: (c,) ~ N(0, sigma_b^2) [T3]. Memory: one layer at a time. ``orth``
    layers in float64 come as :class:`spectra.factored.FactoredLayer` (unpacks as the
    pair, and carries the same kernel in factored form for the Jacobian engine).
    """
    from .kernels import FactoredLayer, conv_kernel, orth_kernel_factored

    c = spec.channels
    for _ in range(spec.depth):
        factors = None
        if spec.init == "orth":  # the same draws, also in factored form (spectra.factored)
            w, factors = orth_kernel_factored(
                c, spec.kernel, dim=spec.dim, sigma_w=spec.sigma_w, generator=generator
            )
        else:
            w = conv_kernel(
                spec.init,
                c,
                c,
                spec.kernel,
                dim=spec.dim,
                sigma_w=spec.sigma_w,
                generator=generator,
                dtype=torch.float64,
            )
        dev = generator.device if generator is not None else None
        b = torch.randn(c, generator=generator, dtype=torch.float64, device=dev) * spec.sigma_b
        if factors is None or dtype != torch.float64:  # factors describe the float64 kernel
            yield w.to(dtype), b.to(dtype)
        else:
            yield FactoredLayer(w.to(dtype), b.to(dtype), factors)


#: How :func:`fixed_point_input` scales h^0 ([T21]): ``"pixel"`` (default) rescales each
#: pixel's c-vector to mean square exactly q* (so the whole input is at q* too), ``"global"``
#: rescales the whole input once, ``"iid"`` is the plain i.i.d. N(0, q*) draw.
INPUT_SCALINGS = ("pixel", "global", "iid")


def fixed_point_input(
    channels: int,
    size: int,
    *,
    dim: int = 2,
    q_star: float,
    activation: str | Callable | Activation = "tanh",
    batch: int | None = None,
    generator: torch.Generator | None = None,
    dtype=torch.float64,
    scaling: str = "pixel",
) -> torch.Tensor:
    """x^0 = phi(h^0) with h^0 at the fixed point q* [T21]; shape (c, *n) or (batch, c, *n).

    h^0 is drawn N(0, 1) i.i.d. and, by default (``scaling="pixel"``), each pixel's
    c-vector is rescaled so that its empirical mean square is exactly q*; ``"global"``
    rescales the whole input (per batch item) once; ``"iid"`` keeps the draw N(0, q*)
    i.i.d., whose mean square is off by ~sqrt(2/N) -- an offset the q-map relaxes only over
    ~1/(2 q*) layers, so at q* = 1/L it survives the whole network (see [T21]). Per pixel
    is the exact fixed point also for kernels that do not mix pixels (delta-orthogonal),
    where each pixel is its own network. For q* = 0 or NaN (linear nets) q = 1 is used.
    """
    check_choice("scaling", scaling, INPUT_SCALINGS)
    act = get_activation(activation)
    shape = (channels,) + (size,) * dim
    if batch is not None:
        shape = (batch, *shape)
    q = q_star if (q_star is not None and math.isfinite(q_star) and q_star > 0) else 1.0
    h = torch.randn(shape, generator=generator, dtype=torch.float64)
    if scaling == "iid":
        h = h * math.sqrt(q)
    else:
        cax = 0 if batch is None else 1
        axes = (cax,) if scaling == "pixel" else tuple(range(cax, h.ndim))
        ms = h.square().mean(dim=axes, keepdim=True)
        h = h * torch.sqrt(q / ms)
    return act.torch_phi(h).to(dtype)


class CircularConvBlock(nn.Module):
    """``depth`` circular convolutions with activation [T1]: (B, c, *n) -> (B, c, *n).

    Parameters are stacked: ``weight`` (depth, c, c, *k), ``bias`` (depth, c). The
    Jacobian engine reads them through :meth:`layers` and :attr:`activation`.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor,
        activation: str | Callable | Activation = "tanh",
    ) -> None:
        super().__init__()
        if weight.ndim not in (4, 5) or bias.shape != weight.shape[:2]:
            raise SpectraError("block weight must be (depth, c, c, *k) with bias (depth, c)")
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        self.activation = get_activation(activation)

    @property
    def depth(self) -> int:
        return self.weight.shape[0]

    @property
    def dim(self) -> int:
        return self.weight.ndim - 3

    @property
    def channels(self) -> int:
        return self.weight.shape[1]

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-layer ``(weight (c, c, *k), bias (c,))``, detached, in order."""
        w, b = self.weight.detach(), self.bias.detach()
        return list(zip(w.unbind(0), b.unbind(0), strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.activation.torch_phi
        # unbind once: one backward node for the whole stack (cheap for depth 10,000)
        for w, b in zip(self.weight.unbind(0), self.bias.unbind(0), strict=True):
            x = phi(circular_conv(x, w, b))
        return x

    def extra_repr(self) -> str:
        return (
            f"depth={self.depth}, channels={self.channels}, kernel={self.kernel}, "
            f"dim={self.dim}, activation={self.activation.name}"
        )


class VanillaCNN(nn.Module):
    """The paper's vanilla CNN (see module docstring): stem, ``.block``, pool, linear head.

    Input (B, in_channels, *(image_size,)*dim) -> logits (B, num_classes). Attributes:
    ``sigma_w``, ``sigma_b``, ``q_star`` (the resolved operating point), ``block_size``
    (the spatial size n the block sees), ``init``.
    """

    def __init__(
        self,
        depth: int,
        channels: int,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        kernel: int = 3,
        dim: int = 2,
        init: str = "delta-orth",
        activation: str | Callable | Activation = "tanh",
        sigma_w: float | None = None,
        sigma_b: float | None = None,
        q_star: float | None = None,
        generator: torch.Generator | None = None,
        dtype=torch.float32,
    ) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 1 or image_size < 1:
            raise SpectraError("in_channels, num_classes and image_size must be >= 1")
        block_size = (image_size + 1) // 2
        block_size = (block_size + 1) // 2
        act = get_activation(activation)
        from .meanfield import operating_point

        sw, sb, q = operating_point(
            depth, sigma_w=sigma_w, sigma_b=sigma_b, q_star=q_star, activation=act
        )
        spec = BlockSpec(depth, channels, block_size, kernel, dim, init, sw, sb)
        self.sigma_w, self.sigma_b, self.q_star = sw, sb, q
        self.init, self.dim, self.block_size = init, dim, block_size
        self.activation = act

        layers = list(iter_block_layers(spec, generator=generator, dtype=torch.float64))
        weight = torch.stack([w for w, _ in layers]).to(dtype)
        bias = torch.stack([b for _, b in layers]).to(dtype)
        del layers
        self.block = CircularConvBlock(weight, bias, act)

        from .kernels import conv_kernel

        conv_cls = nn.Conv1d if dim == 1 else nn.Conv2d
        stem = []
        for c_in, stride in ((in_channels, 1), (channels, 2), (channels, 2)):
            conv = conv_cls(c_in, channels, 3, stride=stride, padding=1, dtype=dtype)
            w = conv_kernel(init, channels, c_in, 3, dim=dim, sigma_w=sw, generator=generator)
            b = torch.randn(channels, generator=generator, dtype=torch.float64) * sb
            with torch.no_grad():
                conv.weight.copy_(w.to(dtype))
                conv.bias.copy_(b.to(dtype))
            stem.append(conv)
        self.stem = nn.ModuleList(stem)
        self.head = nn.Linear(channels, num_classes, dtype=dtype)
        hw = torch.randn(num_classes, channels, generator=generator, dtype=torch.float64)
        with torch.no_grad():
            self.head.weight.copy_((hw / math.sqrt(channels)).to(dtype))
            self.head.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The stem's output, (B, channels, *(block_size,)*dim): what the block sees."""
        phi = self.activation.torch_phi
        for conv in self.stem:
            x = phi(conv(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block(self.features(x))
        h = h.mean(dim=tuple(range(2, h.ndim)))
        return self.head(h)
