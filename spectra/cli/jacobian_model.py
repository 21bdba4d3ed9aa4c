"""``spectra jacobian --model FILE.py:FACTORY``: the Jacobian spectrum of the user's own
model (:func:`spectra.jacobian.model_spectrum`), written as the same files as the
conv-stack command (singular_values.csv or density.csv, summary.csv, jacobian.png,
run.json; no free-probability overlay: the theory is for the paper's CNNs only)."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import SpectraError
from .common import command_run, echo, resolve_dtype
from .model_spec import apply_init, input_tensor, load_model, parse_shape


def run_model_jacobian(
    *,
    model_spec: str,
    input_shape: str | None,
    output: str | None,
    init: str | None,
    method: str,
    sigma_w: float | None,
    sigma_b: float | None,
    lanczos_steps: int,
    probes: int,
    seed: int,
    dtype: str,
    out: Path,
    quiet: bool,
) -> None:
    """Validate everything (one-line errors, nothing written), then compute and write."""
    import torch

    from ..jacobian import METHODS, as_stages, model_spectrum

    if input_shape is None:
        raise SpectraError("--model needs --input-shape C,H,W")
    shape = parse_shape(input_shape)
    allowed = [m for m in METHODS if m != "dense"]
    if method not in allowed:
        raise SpectraError(f"--method with --model: choose one of {', '.join(allowed)}")
    if lanczos_steps < 2 or probes < 1:
        raise SpectraError("--lanczos-steps must be >= 2 and --probes >= 1")
    tdtype = resolve_dtype(dtype)
    model = load_model(model_spec)
    if init is not None:
        from ..kernels import INIT_NAMES

        if init not in INIT_NAMES:
            raise SpectraError(f"unknown --init {init!r}; choose one of {', '.join(INIT_NAMES)}")
        apply_init(model, init, sigma_w=sigma_w or 1.0, sigma_b=sigma_b or 0.0, seed=seed)
    model = model.to(tdtype)
    x = input_tensor(shape, tdtype, seed)
    stages = as_stages(model, output)  # a bad --output name fails here
    try:
        with torch.no_grad():
            h = x
            for s in stages:
                h = s(h)
    except SpectraError:
        raise
    except Exception as e:
        raise SpectraError(
            f"the model does not run on input shape (1, {input_shape}): {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    config = {
        "init": init or "as-built",
        "activation": model_spec.rpartition(":")[2],  # the factory's name
        "depth": len(stages),
        "channels": shape[0],
        "size": shape[-1],
        "kernel": math.nan,
        "dim": len(shape) - 1,
        "sigma_w": sigma_w if sigma_w is not None else math.nan,
        "sigma_b": sigma_b if sigma_b is not None else math.nan,
        "q_star": math.nan,
        "dtype": dtype,
    }
    from .jacobian import _write_outputs

    meta = {"model": model_spec, "input_shape": list(shape), "output": output, **config}
    with command_run(out, seed=seed, device="cpu", quiet=quiet, **meta) as ctx:
        res = model_spectrum(
            model,
            x,
            method,
            output=output,
            lanczos_options={"steps": lanczos_steps, "probes": probes, "seed": seed},
        )
        summary = _write_outputs(ctx.folder, res, config, seed=seed, theory=False)
        ctx.meta.update(method=res.method, method_reason=res.reason)
        ctx.meta.update(n_in=res.info["n_in"], n_out=res.info["n_out"])
        echo(
            f"{res.method}: J is {res.info['n_out']} x {res.info['n_in']}, "
            f"s_max = {summary['s_max']:.6g}, s_min = {summary['s_min']:.6g}, "
            f"mean s^2 = {summary['mean_sq']:.6g}, {res.seconds:.2f} s [{res.reason}]",
            quiet,
        )
