"""``spectra jacobian``: every singular value of the input-output Jacobian of a deep
circular CNN (theory [T21]-[T24]) against the free-probability law ([T29], [T34]).

A thin wrapper over :mod:`spectra.jacobian`; heavy imports stay inside the command body.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ..errors import SpectraError, check_choice, check_int, check_seed
from .common import (
    DeviceOpt,
    DtypeOpt,
    ForceOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    app,
    check_operating_point,
    command_run,
    echo,
    progress_bar,
    resolve_device,
    resolve_dtype,
)
from .cost import check_cost, jacobian_costs

#: The input x0 is drawn from a generator seeded with seed + this offset (the layers use
#: ``seed`` itself, exactly as ``VanillaCNN(generator=torch.Generator().manual_seed(seed))``).
INPUT_SEED_OFFSET = 0x9E3779B9


def _validate(depth, channels, size, kernel, dim, lanczos_steps, probes, seed) -> None:
    """The numeric options, torch-free (so an impossible job is refused in well under 2 s)."""
    for name, value in (("--depth", depth), ("--channels", channels), ("--size", size)):
        check_int(name, value, 1, None)  # the upper bound after the cost estimate
    check_int("--kernel", kernel, 1, None)
    if kernel % 2 == 0:
        raise SpectraError(f"--kernel must be an odd integer >= 1, got {kernel}")
    check_int("--dim", dim, 1, 2)
    check_int("--lanczos-steps", lanczos_steps, 2, None)
    check_int("--probes", probes, 1, None)
    check_seed("--seed", seed)


def _check_bounds(depth, channels, size, kernel, lanczos_steps, probes) -> None:
    """Every count within int64, and N = c n^dim too (what torch can index)."""
    check_int("--depth", depth, 1)
    check_int("--channels", channels, 1)
    check_int("--size", size, 1)
    check_int("--kernel", kernel, 1)
    check_int("--lanczos-steps", lanczos_steps, 2)
    check_int("--probes", probes, 1)


def _check_names(method, init, activation, native) -> None:
    from ..activations import ACTIVATIONS
    from ..jacobian import METHODS
    from ..kernels import INIT_NAMES

    check_choice("--method", method, METHODS)
    check_choice("--init", init, INIT_NAMES)
    check_choice("--activation", activation.lower(), ACTIVATIONS)
    check_choice("--native", native, ("auto", "on", "off"))


def _driving(depth, channels, size, kernel, dim, *_):
    return {"--depth": depth, "--channels": channels, "--size": size, "--kernel": kernel}


def _costs(depth, channels, size, kernel, dim, lanczos_steps, probes, itemsize, routes):
    return jacobian_costs(
        depth,
        channels,
        size,
        kernel,
        dim,
        routes=routes,
        itemsize=itemsize,
        lanczos_steps=lanczos_steps,
        probes=probes,
    )


@app.command()
def jacobian(
    init: Annotated[
        str | None,
        typer.Option("--init", help="gaussian|orth|delta-orth|gs0..gs4 (default orth)"),
    ] = None,
    depth: Annotated[int, typer.Option("--depth", help="Number of conv layers L.")] = 4000,
    channels: Annotated[int, typer.Option("--channels", help="Channels c.")] = 16,
    size: Annotated[int, typer.Option("--size", help="Spatial size n.")] = 8,
    kernel: Annotated[int, typer.Option("--kernel", help="Odd kernel size k.")] = 3,
    dim: Annotated[int, typer.Option("--dim", help="Spatial dimensions: 1 or 2.")] = 2,
    activation: Annotated[str, typer.Option("--activation", help="tanh|erf|relu|linear")] = (
        "tanh"
    ),
    q_star: Annotated[
        float | None, typer.Option("--q-star", help="Critical point with this q* [T16].")
    ] = None,
    sigma_w: Annotated[float | None, typer.Option("--sigma-w", help="Weight std.")] = None,
    sigma_b: Annotated[float | None, typer.Option("--sigma-b", help="Bias std.")] = None,
    method: Annotated[
        str, typer.Option("--method", help="auto|forward|dense|stable|lanczos")
    ] = "auto",
    theory: Annotated[
        bool, typer.Option("--theory/--no-theory", help="Free-probability columns/overlay.")
    ] = True,
    lanczos_steps: Annotated[int, typer.Option("--lanczos-steps", help="Lanczos steps.")] = 40,
    probes: Annotated[int, typer.Option("--probes", help="Lanczos probe vectors.")] = 4,
    native: Annotated[
        str,
        typer.Option(
            "--native",
            help="Native kernel: auto (where it is the faster route on this CPU) | on | off.",
        ),
    ] = "auto",
    input_scaling: Annotated[
        str,
        typer.Option(
            "--input-scaling",
            help="h0 at q* exactly per pixel (pixel), over the input (global), or i.i.d. (iid).",
        ),
    ] = "pixel",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float32",
    out: OutOpt = Path("."),
    quiet: QuietOpt = False,
    model: Annotated[
        str | None,
        typer.Option("--model", help="FILE.py:FACTORY: your own model instead of the stack."),
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="With --model: C,H,W (batch of one).")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("--output", help="With --model: the module whose output ends J."),
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Singular values of the Jacobian of `depth` circular convs + activation [T21].

    With --model FILE.py:FACTORY --input-shape C,H,W: of your own model instead
    (--output MODULE ends it at a named module; --init re-draws every conv/linear layer).

    Default operating point: critical with q* = 1/depth. Writes singular_values.csv (or
    density.csv with --method lanczos), summary.csv, jacobian.png and run.json.
    """
    if model is not None:
        from .jacobian_model import run_model_jacobian

        check_seed("--seed", seed)
        return run_model_jacobian(
            model_spec=model,
            input_shape=input_shape,
            output=output,
            init=init,
            method=method,
            sigma_w=sigma_w,
            sigma_b=sigma_b,
            lanczos_steps=lanczos_steps,
            probes=probes,
            seed=seed,
            dtype=dtype,
            out=out,
            quiet=quiet,
        )
    init = init or "orth"
    _validate(depth, channels, size, kernel, dim, lanczos_steps, probes, seed)
    check_operating_point(sigma_w, sigma_b, q_star)
    itemsize = 8 if dtype == "float64" else 4
    sizes = (depth, channels, size, kernel, dim, lanczos_steps, probes, itemsize)
    # before any heavy import: the cheapest route this --method may take must fit
    first = (method,) if method in ("forward", "dense", "stable", "lanczos") else ("forward",)
    check_cost(_driving(*sizes), _costs(*sizes, first + ("lanczos",)), force)
    _check_bounds(depth, channels, size, kernel, lanczos_steps, probes)
    _check_names(method, init, activation, native)
    from ..network import INPUT_SCALINGS

    check_choice("--input-scaling", input_scaling, INPUT_SCALINGS)
    tdtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    use_native = {"auto": None, "on": True, "off": False}[native]

    import torch

    from ..activations import get_activation
    from ..jacobian import (
        DENSE_MAX_N,
        FULL_SVD_MAX_N,
        ConvStack,
        native_route,
        spectrum,
        tune_allocator,
    )
    from ..kernels import conv_kernel
    from ..meanfield import operating_point
    from ..network import BlockSpec, fixed_point_input

    n_feat = channels * size**dim
    route = "lanczos" if method == "auto" and n_feat > FULL_SVD_MAX_N else method
    check_cost(_driving(*sizes), _costs(*sizes, ("forward" if route == "auto" else route,)), force)
    act = get_activation(activation)
    sw, sb, qs = operating_point(
        depth, sigma_w=sigma_w, sigma_b=sigma_b, q_star=q_star, activation=act
    )
    spec = BlockSpec(depth, channels, size, kernel, dim, init, sw, sb)
    if method == "dense" and spec.n_features > DENSE_MAX_N:
        raise SpectraError(
            f"--method dense needs N = c n^dim <= {DENSE_MAX_N}, got {spec.n_features}"
        )
    conv_kernel(init, channels, channels, kernel, dim=dim, sigma_w=sw)  # fail before output
    tune_allocator()

    g_in = torch.Generator().manual_seed(seed + INPUT_SEED_OFFSET)
    x0 = fixed_point_input(
        channels, size, dim=dim, q_star=qs, activation=act, generator=g_in, scaling=input_scaling
    )
    stack = replace(ConvStack.from_spec(spec, x0, act, seed=seed), native=use_native)
    config = {
        "init": init,
        "activation": act.name,
        "depth": depth,
        "channels": channels,
        "size": size,
        "kernel": kernel,
        "dim": dim,
        "sigma_w": sw,
        "sigma_b": sb,
        "q_star": qs,
        "dtype": dtype,
    }
    if input_scaling == "iid" and act.name == "tanh" and qs > 0:
        # the outlier theory from the input's actual mean square (h0 = atanh x0)
        config["q0"] = float(torch.atanh(x0.double()).square().mean())
    frame_future = _prepare_theory(config, theory)  # overlaps the engine
    with command_run(
        out, seed=seed, device=dev, quiet=quiet, input_scaling=input_scaling, **config
    ) as ctx:
        lanczos = method == "lanczos" or (method == "auto" and spec.n_features > FULL_SVD_MAX_N)
        total = depth * (1 + 2 * min(lanczos_steps, spec.n_features)) if lanczos else depth
        with progress_bar(f"layer passes ({method})", total, quiet) as advance:
            try:
                res = spectrum(
                    stack,
                    method,
                    dtype=tdtype,
                    device=dev,
                    progress=advance,
                    lanczos_options={"steps": lanczos_steps, "probes": probes, "seed": seed},
                )
            except FloatingPointError as e:  # e.g. relu switching off a whole layer
                raise SpectraError(
                    f"the Jacobian of this network has no finite log-spectrum ({e}); "
                    "try another --seed, a larger --channels/--size or a smooth --activation"
                ) from None
        summary = _write_outputs(
            ctx.folder, res, config, seed=seed, theory=theory, frame_future=frame_future
        )
        ctx.meta["method"] = res.method
        ctx.meta["method_reason"] = res.reason
        # which tangent push ran: orth layers in factored form, the other kernels by their
        # taps, or the conv route (no library, GPU, 1D, other widths); "none" for dense
        route = "conv"
        if res.method != "dense":
            first = next(iter(stack.layers()))
            route = native_route(
                first, tuple(x0.shape), res.dtype, torch.device(dev), native=stack.native
            )
        ctx.meta["native_push"] = "none" if route == "conv" else route
        echo(
            f"{res.method}: N = {spec.n_features}, s_max = {summary['s_max']:.6g}, "
            f"s_min = {summary['s_min']:.6g}, mean s^2 = {summary['mean_sq']:.6g} "
            f"(theory {summary['theory_mean_sq']:.6g}), ks = {summary['ks']:.3g}, "
            f"{summary['seconds']:.2f} s [{res.reason}]",
            quiet,
        )


def _prepare_theory(config: dict, theory: bool):
    """Start the theory frame (and the plotting imports) in a background thread, so they
    overlap the Jacobian computation; pass the returned future to :func:`_write_outputs`."""
    from concurrent.futures import ThreadPoolExecutor

    from ..studies import theory_frame

    def work():
        from ..plots import jacobian as _  # noqa: F401  (seaborn/matplotlib import)

        return theory_frame(config) if theory else None

    pool = ThreadPoolExecutor(1)
    fut = pool.submit(work)
    pool.shutdown(wait=False)
    return fut


def _write_outputs(
    folder: Path, res, config: dict, *, seed: int, theory: bool, frame_future=None
) -> dict:
    """Write singular_values.csv (or density.csv), summary.csv and jacobian.png into
    ``folder``; return the summary row. ``frame_future``: from :func:`_prepare_theory`."""
    folder = Path(folder)
    # the future first: its thread imports matplotlib/seaborn, and importing them here
    # while that import is half done can hand this thread a half-initialised module
    if frame_future is not None:
        frame = frame_future.result()
    else:
        from ..studies import theory_frame

        frame = theory_frame(config) if theory else None
    import pandas as pd

    from ..plots.jacobian import density_figure, jacobian_figure
    from ..studies import bulk_frame, density_frame_lanczos, summary_row, sv_frame
    from ..tables import write_csv

    row = summary_row(res, config, seed=seed, theory=theory, frame=frame)
    if res.log_singular_values is not None:
        sv = sv_frame(res.log_singular_values, config, method=res.method, seed=seed)
        write_csv(sv, folder / "singular_values.csv")
        fig = jacobian_figure(sv, bulk_frame(frame, row), row)
    else:
        dens = density_frame_lanczos(res, frame)
        write_csv(dens, folder / "density.csv")
        fig = density_figure(dens, row)
    write_csv(pd.DataFrame([row]), folder / "summary.csv")
    fig.savefig(folder / "jacobian.png", dpi=110, metadata={"Software": None})
    return row
