"""What the deep critical regime needs: the classifier around VanillaCNN, its fixed
scales, per-group learning rates, denormal flushing, and a diagnosis of signal and
gradient scales (the README (training section) explains and measures each).

* :class:`Classifier`: ``head(readout_scale * pool(block(stem(input_scale * x))))``
  with ``input_scale`` putting the block's input at the fixed point q* [T10] and
  ``readout_scale = 1/sqrt(q*)``;
* :func:`lr_factors` / :func:`make_optimizer`: SGD or Adam with per-group rates;
* :func:`diagnose`: mean squares through the net and per-group squared gradients.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from ..data import Dataset
    from ._loop import TrainConfig


def configure_numerics() -> None:
    """Flush denormal floats to zero (x86 FTZ/DAZ; a no-op where unsupported).

    Near-critical deep tanh nets produce many subnormal numbers in the backward pass
    and in the optimiser state (Adam's squared gradients, tiny bias gradients); on CPU
    each subnormal operation costs ~100 cycles, which made the step time of a depth-100
    net grow 4x during training. Flushing them changes results by less than 1e-38.
    """
    torch.set_flush_denormal(True)


def lr_factors(config: TrainConfig, q_star: float) -> dict[str, float]:
    """Per-group learning-rate factors ``{"stem", "weight", "bias", "head"}`` (and
    ``"stem_bias"`` under ``lr_scaling="qstar"``).

    ``lr_scaling="none"``: all 1. ``"depth"`` (default), with q = q* (= 1/depth at the
    default operating point) and the readout scaled by 1/sqrt(q*) (see
    the README (training section) for the measurements behind this):

    * SGD: block weights q, block biases q²; stem and head 1. Each of the L block
      layers moves the output coherently (near-isometric, near-linear block), by an
      amount proportional to its input's mean square, q for a weight and 1 for a bias,
      times the squared back-propagated signal, which the readout scale makes 1/q.
      Summed over L = 1/q layers: weights L·q·(1/q)·q = 1, biases L·1·(1/q)·q² = 1.
    * Adam (per-parameter steps of size ~lr): block weights q, block biases q^1.5.
      A bias step shifts pre-activations of scale sqrt(q) by lr; L layers add up.

    ``"qstar"``: as ``"depth"``, and the three stem biases get their own group with
    factor q (SGD) or sqrt(q) (Adam): behind the 1/sqrt(q) readout their squared
    gradient grows like 1/q, which made a depth-1,000 net overshoot (loss 2.3 -> 3.8)
    in its first steps. (Kept separate from ``"depth"`` so that runs made with it
    resume and reproduce unchanged.)
    """
    f = {"stem": 1.0, "weight": 1.0, "bias": 1.0, "head": 1.0}
    if config.lr_scaling == "none" or not (math.isfinite(q_star) and q_star > 0):
        return f
    q = min(float(q_star), 1.0)
    sgd = config.optimizer == "sgd"
    f = dict(f, weight=q, bias=q * q) if sgd else dict(f, weight=q, bias=q**1.5)
    if config.lr_scaling == "qstar":
        f["stem_bias"] = q if sgd else math.sqrt(q)
    return f


class Classifier(torch.nn.Module):
    """:class:`spectra.network.VanillaCNN` with two fixed (non-trained) scales.

    ``forward(x) = head(readout_scale * mean_space(block(stem(input_scale * x))))``,
    logits (B, num_classes) for images (B, C, H, W). ``input_scale`` puts the stem's
    output (the block's input) at the fixed point q* [T10]; ``readout_scale`` =
    1/sqrt(q*) hands the head features of order one (see the README (training section)). Both are
    buffers, saved with the model. ``.net`` is the VanillaCNN; ``.q_star`` its q*.
    ``route`` and ``segment``: how the block runs (:func:`spectra.training.circular_block`).
    """

    def __init__(
        self,
        net: torch.nn.Module,
        input_scale: float = 1.0,
        readout_scale: float = 1.0,
        *,
        route: str = "auto",
        segment: int = 0,
    ):
        super().__init__()
        self.net = net
        self.route, self.segment = route, int(segment)
        self.register_buffer("input_scale", torch.tensor(float(input_scale), dtype=torch.float64))
        self.register_buffer(
            "readout_scale", torch.tensor(float(readout_scale), dtype=torch.float64)
        )

    @property
    def q_star(self) -> float:
        return float(self.net.q_star)

    def block_input(self, x: torch.Tensor) -> torch.Tensor:
        """The stem's output, (B, c, n, n): what the block (and its Jacobian) sees."""
        return self.net.features(x * self.input_scale.to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ._fast import circular_block

        h = circular_block(
            self.net.block, self.block_input(x), route=self.route, segment=self.segment
        )
        h = h.mean(dim=tuple(range(2, h.ndim))) * self.readout_scale.to(h.dtype)
        return self.net.head(h)


def matched_input_scale(
    net: torch.nn.Module, x: torch.Tensor, q_target: float, iterations: int = 4
) -> float:
    """The factor a with mean((stem(a x))^2) ~= ``q_target`` on the sample ``x``.

    ``iterations`` rounds of a <- a sqrt(q_target / m(a)), starting at a = 1: exact for
    a linear stem, so the match is tight where it matters, at small q* (measured on
    digits: within 0.4% at q* = 1/40; 6% low at q* = 0.2, where tanh saturates).
    Returns 1.0 if the stem output is 0.
    """
    a = 1.0
    with torch.no_grad():
        for _ in range(iterations):
            m = float(net.features(x * a).pow(2).mean())
            if not (m > 0 and math.isfinite(m)):
                return 1.0
            a *= math.sqrt(q_target / m)
    return a


def build_model(config: TrainConfig, data: Dataset, dtype=torch.float32) -> Classifier:
    """The :class:`Classifier` for ``config`` on ``data``'s image shape, seeded by
    ``config.seed``; its scales are computed on the first 256 training images."""
    from ..network import VanillaCNN

    g = torch.Generator().manual_seed(int(config.seed))
    net = VanillaCNN(
        config.depth,
        config.channels,
        in_channels=data.in_channels,
        num_classes=data.num_classes,
        image_size=data.image_size,
        kernel=config.kernel,
        init=config.init,
        activation=config.activation,
        sigma_w=config.sigma_w,
        sigma_b=config.sigma_b,
        q_star=config.q_star,
        generator=g,
        dtype=dtype,
    )
    q = float(net.q_star)
    ok = math.isfinite(q) and q > 0
    a = (
        matched_input_scale(net, data.x_train[:256].to(dtype), q)
        if (config.match_input and ok)
        else 1.0
    )
    r = 1.0 / math.sqrt(q) if (config.readout_scale and ok) else 1.0
    return Classifier(net, a, r, route=config.block_route, segment=config.segment)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum or Adam, with the parameter groups of :func:`lr_factors`."""
    fac = lr_factors(config, float(model.q_star))
    named = dict(model.named_parameters())
    groups: dict[str, list] = {"stem": [], "weight": [], "bias": [], "head": []}
    if "stem_bias" in fac:
        groups["stem_bias"] = []
    for n, p in named.items():
        if n == "net.block.weight":
            groups["weight"].append(p)
        elif n == "net.block.bias":
            groups["bias"].append(p)
        elif n.startswith("net.head."):
            groups["head"].append(p)
        elif "stem_bias" in fac and n.startswith("net.stem.") and n.endswith(".bias"):
            groups["stem_bias"].append(p)
        else:
            groups["stem"].append(p)
    param_groups = [
        {"params": ps, "lr": config.lr * fac[k], "name": k} for k, ps in groups.items() if ps
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum)
    return torch.optim.Adam(param_groups, lr=config.lr)


def diagnose(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Signal and gradient scales of ``model`` on one batch (images ``x``, labels ``y``).

    Returns the mean square of the block's input and output (compare with q*), the rms
    of the pooled features the head sees (after the readout scale) and of the logits,
    and, per parameter group of :func:`lr_factors` (stem weights and stem biases apart),
    the squared gradient norm ``g2_*``
    of the mean cross-entropy: for SGD, ``lr_group * g2_group`` is that group's
    first-order rate of loss decrease. Leaves the gradients in ``model``.
    """
    model.zero_grad(set_to_none=True)
    b_in = model.block_input(x)
    b_out = model.net.block(b_in)
    pooled = b_out.mean(dim=tuple(range(2, b_out.ndim))) * model.readout_scale.to(x.dtype)
    logits = model.net.head(pooled)
    torch.nn.functional.cross_entropy(logits, y).backward()
    g2 = {"stem": 0.0, "stem_bias": 0.0, "weight": 0.0, "bias": 0.0, "head": 0.0}
    for n, p in model.named_parameters():
        key = {"net.block.weight": "weight", "net.block.bias": "bias"}.get(n)
        if key is None and n.startswith("net.stem."):
            key = "stem_bias" if n.endswith(".bias") else "stem"
        key = key or "head"
        g2[key] += float(p.grad.detach().pow(2).sum())
    return {
        "q_star": model.q_star,
        "block_in_q": float(b_in.detach().pow(2).mean()),
        "block_out_q": float(b_out.detach().pow(2).mean()),
        "head_input_rms": float(pooled.detach().pow(2).mean().sqrt()),
        "logit_rms": float(logits.detach().pow(2).mean().sqrt()),
        **{f"g2_{k}": v for k, v in g2.items()},
    }
