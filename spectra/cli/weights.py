"""``spectra weights``: the paper's Fig S4 (Appendix E).

Singular values of random circular-conv matrices vs dense Gaussian matrices as the
channel count grows, with the quarter-circle law [T33] and the KS distance to it. A thin
wrapper over :mod:`spectra.weight_spectra`; heavy imports stay inside the command body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import check_int, check_seed
from .common import (
    DeviceOpt,
    DtypeOpt,
    ForceOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    app,
    command_run,
    echo,
    parse_int_list,
    progress_bar,
    resolve_device,
    resolve_dtype,
)
from .cost import check_cost, weights_cost


@app.command()
def weights(
    dim: Annotated[int, typer.Option("--dim", help="Spatial dimensions: 1 or 2.")] = 1,
    size: Annotated[int, typer.Option("--size", help="Spatial size n (>= 1).")] = 26,
    kernel: Annotated[int, typer.Option("--kernel", help="Odd kernel size k.")] = 5,
    channels: Annotated[
        str, typer.Option("--channels", help="Comma-separated channel counts c.")
    ] = "2,4,8,16,32,64",
    seeds: Annotated[
        int, typer.Option("--seeds", help="Number of seeds: --seed, --seed+1, ...")
    ] = 1,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float64",
    out: OutOpt = Path("."),
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """Singular values of random conv vs dense matrices (Fig S4) with the quarter circle.

    conv: circular conv, i.i.d. N(0, 1/(c k^dim)) taps, size^dim positions (FFT route).

    dense: N x N with N = c size^dim and N(0, 1/N) entries.

    Writes singular_values.csv, theory.csv, ks.csv (KS distance to the law), weights.png.
    """
    chans = parse_int_list(channels, "--channels")
    check_int("--dim", dim, 1, 2)
    check_int("--size", size, 1)
    check_int("--kernel", kernel, 1)
    check_int("--seeds", seeds, 1, None)
    check_seed("--seed", seed)
    cost = weights_cost(chans, size, kernel, dim, seeds)
    check_cost(
        {"--channels": channels, "--size": size, "--dim": dim, "--seeds": seeds}, [cost], force
    )
    check_seed("--seed", seed, count=check_int("--seeds", seeds, 1))
    torch_dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    import torch

    from .. import studies as ws
    from ..plots.weights import weights_figure
    from ..tables import write_csv

    seed_list = list(range(seed, seed + seeds))
    ws.validate_study(dim, size, kernel, chans, seed_list)  # fail before any work or output
    with command_run(out, seed=seed, device=dev, quiet=quiet, dtype=dtype) as ctx:
        total = 2 * len(chans) * len(seed_list)
        # Many small LAPACK calls: one thread costs little on an idle box and was 5x faster
        # on the busy shared box (2 spinning OpenMP threads fight other jobs for the cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with progress_bar("singular values", total, quiet) as advance:
                sv = ws.weight_singular_values(
                    chans,
                    dim=dim,
                    size=size,
                    kernel=kernel,
                    seeds=seed_list,
                    dtype=torch_dtype,
                    device=dev,
                    progress=advance,
                )
        finally:
            torch.set_num_threads(threads)
        theory = ws.weight_theory()
        ks = ws.weight_ks(sv)
        write_csv(sv, ctx.folder / "singular_values.csv")
        write_csv(theory, ctx.folder / "theory.csv")
        write_csv(ks, ctx.folder / "ks.csv")
        fig = weights_figure(sv, theory, ks)
        fig.savefig(ctx.folder / "weights.png", dpi=110)
    table = ks.groupby(["channels", "kind"])["ks"].mean().unstack("kind")
    echo("KS distance to the quarter circle (mean over seeds):", quiet)
    echo(table.to_string(float_format=lambda v: f"{v:.4f}"), quiet)
    echo(f"wrote {out}/singular_values.csv, theory.csv, ks.csv, weights.png", quiet)
