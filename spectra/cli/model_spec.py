"""``--model FILE.py:FACTORY`` for ``spectra jacobian``: load the user's model, parse
``--input-shape``, apply spectra's initialisers to every conv and linear layer."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from ..errors import SpectraError


def load_model(spec: str):
    """Call ``FACTORY()`` from ``FILE.py`` and return the module (in eval mode)."""
    import torch

    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name.isidentifier():
        raise SpectraError(f"--model must be FILE.py:FACTORY, got {spec!r}")
    file = Path(path)
    if file.suffix != ".py" or not file.is_file():
        raise SpectraError(f"--model: no Python file {path!r}")
    mod_spec = importlib.util.spec_from_file_location(f"_spectra_user_{file.stem}", file)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as e:  # the user's file: report its error in one line
        raise SpectraError(f"--model: importing {path} failed: {type(e).__name__}: {e}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise SpectraError(f"--model: {path} has no callable {name!r}")
    try:
        model = factory()
    except Exception as e:
        raise SpectraError(f"--model: {name}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, torch.nn.Module):
        raise SpectraError(f"--model: {name}() returned {type(model).__name__}, not a torch module")
    return model.eval()


def parse_shape(text: str) -> tuple[int, ...]:
    """``C,H,W`` (any number of positive integers) -> a tuple."""
    try:
        shape = tuple(int(p) for p in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise SpectraError(f"--input-shape must be positive integers like 3,32,32, got {text!r}")
    return shape


def apply_init(model, init: str, *, sigma_w: float, sigma_b: float, seed: int) -> int:
    """Re-draw every Conv1d/Conv2d weight by ``spectra.kernels.conv_kernel(init)`` and every
    Linear weight by ``dense_weight`` (orth -> dense-orth, others -> dense-gaussian), biases
    N(0, sigma_b^2); returns how many layers were set."""
    import torch

    from ..kernels import conv_kernel, dense_weight

    g = torch.Generator().manual_seed(seed)
    count = 0
    for name, m in model.named_modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
            c_out, c_in, *ks = m.weight.shape
            if m.groups != 1 or len(set(ks)) != 1:
                raise SpectraError(f"--init: {name} is grouped or not square; cannot re-draw it")
            try:
                w = conv_kernel(init, c_out, c_in, ks[0], dim=len(ks), sigma_w=sigma_w, generator=g)
            except SpectraError as e:
                raise SpectraError(f"--init {init} on {name}: {e}") from None
        elif isinstance(m, torch.nn.Linear):
            dense = "dense-orth" if init in ("orth", "delta-orth") else "dense-gaussian"
            w = dense_weight(dense, m.out_features, m.in_features, sigma_w=sigma_w, generator=g)
        else:
            continue
        with torch.no_grad():
            m.weight.copy_(w.to(m.weight.dtype))
            if m.bias is not None:
                m.bias.copy_(sigma_b * torch.randn(m.bias.shape, generator=g, dtype=torch.float64))
        count += 1
    if count == 0:
        raise SpectraError("--init: the model has no conv or linear layer")
    return count


def input_tensor(shape: tuple[int, ...], dtype, seed: int):
    """The input x: (1, *shape) standard normal from ``seed`` (a batch of one)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn((1, *shape), generator=g, dtype=torch.float64).to(dtype)


def n_features(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
