"""Elementwise activations with their first and second derivatives.

One registry serves mean-field theory (numpy, float64), free probability (the law of
phi'(h)^2, the theory page [T28]) and the networks (torch). An activation is looked up by name
(``tanh``, ``erf``, ``relu``, ``linear``) or given as a callable; for a callable the
derivatives are taken with ``torch.func.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

if TYPE_CHECKING:  # torch is imported lazily so `import spectra` (and the CLI) stay fast
    import torch

from .errors import SpectraError

__all__ = ["Activation", "get_activation", "ACTIVATIONS"]

_SQRT_PI = math.sqrt(math.pi)


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity phi with phi' and phi''.

    ``phi``, ``dphi``, ``d2phi`` act on numpy arrays (float64); ``torch_phi`` and
    ``torch_dphi`` act on torch tensors of any dtype/device. ``odd`` is True when
    phi(-x) = -phi(x) (used for c* = 0 at sigma_b = 0, the theory page [T16]). ``builtin`` is
    True for the named activations only, so closed forms / series keyed on the name (ReLU
    arc-cosine kernel, tanh/erf critical-line series) are valid for it.

    The named activations are built without importing torch (their torch halves import it
    when first called), so mean-field code stays torch-free and fast.
    """

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    d2phi: Callable[[np.ndarray], np.ndarray]
    torch_phi: Callable[[torch.Tensor], torch.Tensor]
    torch_dphi: Callable[[torch.Tensor], torch.Tensor]
    odd: bool = False
    builtin: bool = False


def _torch_tanh(x):
    import torch

    return torch.tanh(x)


def _torch_dtanh(x):
    import torch

    return 1.0 - torch.tanh(x) ** 2


def _torch_erf(x):
    import torch

    return torch.erf(x)


def _torch_derf(x):
    import torch

    return (2.0 / _SQRT_PI) * torch.exp(-(x**2))


def _torch_relu(x):
    import torch

    return torch.relu(x)


def _torch_ones_like(x):
    import torch

    return torch.ones_like(x)


def _sech2(x):
    """sech(x)^2 = 4 e^{-2|x|} / (1 + e^{-2|x|})^2: no overflow (cosh(x) overflows past
    |x| ~ 710, where sech^2 underflows to 0 without a warning this way)."""
    e = np.exp(-2.0 * np.abs(np.asarray(x, dtype=np.float64)))
    return 4.0 * e / (1.0 + e) ** 2


def _tanh() -> Activation:
    def dphi(x):
        return _sech2(x)

    def d2phi(x):
        return -2.0 * np.tanh(x) * _sech2(x)

    return Activation(
        "tanh", np.tanh, dphi, d2phi, _torch_tanh, _torch_dtanh, odd=True, builtin=True
    )


def _erf() -> Activation:
    def dphi(x):
        return 2.0 / _SQRT_PI * np.exp(-(x**2))

    def d2phi(x):
        return -4.0 / _SQRT_PI * x * np.exp(-(x**2))

    return Activation(
        "erf",
        special.erf,
        dphi,
        d2phi,
        _torch_erf,
        _torch_derf,
        odd=True,
        builtin=True,
    )


def _relu() -> Activation:
    return Activation(
        "relu",
        lambda x: np.maximum(x, 0.0),
        lambda x: (np.asarray(x) > 0).astype(np.float64),
        lambda x: np.zeros_like(np.asarray(x, dtype=np.float64)),
        _torch_relu,
        lambda x: (x > 0).to(x.dtype),
        builtin=True,
    )


def _linear() -> Activation:
    return Activation(
        "linear",
        lambda x: np.asarray(x, dtype=np.float64),
        lambda x: np.ones_like(np.asarray(x, dtype=np.float64)),
        lambda x: np.zeros_like(np.asarray(x, dtype=np.float64)),
        lambda x: x,
        _torch_ones_like,
        odd=True,
        builtin=True,
    )


ACTIVATIONS: dict[str, Callable[[], Activation]] = {
    "tanh": _tanh,
    "erf": _erf,
    "relu": _relu,
    "linear": _linear,
}


def _from_callable(fn: Callable, name: str) -> Activation:
    """Wrap a torch-traceable scalar function; derivatives by ``torch.func``."""
    import torch

    d1 = torch.func.vmap(torch.func.grad(fn))
    d2 = torch.func.vmap(torch.func.grad(torch.func.grad(fn)))

    def np_wrap(f):
        def g(x):
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
            return f(t.reshape(-1)).reshape(t.shape).numpy()

        return g

    def torch_d1(x):
        return d1(x.reshape(-1)).reshape(x.shape)

    return Activation(name, np_wrap(fn), np_wrap(d1), np_wrap(d2), fn, torch_d1, odd=False)


def get_activation(activation: str | Callable | Activation) -> Activation:
    """The :class:`Activation` for a name, a torch callable, or an ``Activation``.

    The one activation resolver. Named activations are built without importing torch
    (keeps the CLI fast); a callable gets torch autograd derivatives. A callable or
    ``Activation`` that *is* a named one (same name, same values on a few points to 1e-14)
    is replaced by the named one, so its closed forms apply (``Activation.builtin``).
    Raises :class:`SpectraError` for an unknown name.
    """
    if isinstance(activation, Activation) and activation.builtin:
        return activation
    if isinstance(activation, str):
        key = activation.lower()
        if key not in ACTIVATIONS:
            raise SpectraError(
                f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        return ACTIVATIONS[key]()
    if isinstance(activation, Activation):
        a = activation
    elif callable(activation):
        a = _from_callable(activation, getattr(activation, "__name__", "custom"))
    else:
        raise SpectraError(
            f"activation must be a name or a callable, got {type(activation).__name__}"
        )
    if a.name in ACTIVATIONS:  # claims to be a named one: take it if the values agree
        ref = ACTIVATIONS[a.name]()
        x = np.array([-2.5, -0.7, 0.0, 0.3, 1.1, 4.0])
        if np.allclose(np.asarray(a.phi(x), dtype=np.float64), ref.phi(x), rtol=1e-14, atol=0):
            return ref
    return a
