"""Mean-field commands: ``spectra meanfield``, ``spectra phase``, ``spectra modes``.

Thin wrappers over :mod:`spectra.meanfield` (the theory page [T10]-[T19]); heavy imports stay
inside the command bodies so start-up is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import (
    SIGMA_MAX,
    SpectraError,
    check_choice,
    check_int,
    check_real,
    check_seed,
    check_sigma,
)
from .common import (
    ForceOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    app,
    command_run,
    echo,
    parse_float_list,
    parse_name_list,
    progress_bar,
)
from .cost import check_cost, grid_cost

ActOpt = Annotated[str, typer.Option("--activation", help="tanh | erf | relu | linear.")]

_COLUMNS = [
    "activation",
    "sigma_w",
    "sigma_b",
    "q_star",
    "c_star",
    "chi_1",
    "chi_c",
    "chi_q",
    "xi_c",
    "xi_q",
]


def _check_activation(name: str) -> str:
    from ..activations import ACTIVATIONS

    return check_choice("--activation", name.lower(), ACTIVATIONS)


#: Per grid point of ``spectra phase`` (q*, c*, chi's, xi_c and the figure): measured
#: 250 bytes and 1.6e-4 s per point between 100^2 and 600^2 points.
PHASE_POINT_BYTES, PHASE_POINT_SECONDS = 250.0, 1e-4
#: Per Fourier mode of ``spectra modes`` (a modes.csv row and its marker in the figure):
#: measured 1.3 KB and 3e-5 s per row at 512^2 modes x 5 vectors.
MODE_BYTES, MODE_SECONDS = 1.5e3, 2e-5


@app.command()
def meanfield(
    sigma_w: Annotated[
        float | None, typer.Option("--sigma-w", help="Weight std sigma_w (> 0).")
    ] = None,
    sigma_b: Annotated[
        float | None, typer.Option("--sigma-b", help="Bias std sigma_b (>= 0).")
    ] = None,
    critical: Annotated[
        bool, typer.Option("--critical", help="Put sigma_w on the critical line chi_1 = 1.")
    ] = False,
    activation: ActOpt = "tanh",
    out: OutOpt = Path("."),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Fixed points q*, c*, slopes chi_1, chi_c, chi_q and depth scales at one point.

    Writes meanfield.csv (activation, sigma_w, sigma_b, q_star, c_star, chi_1, chi_c,
    chi_q, xi_c, xi_q) and run.json. No randomness: --seed is only recorded.
    """
    from .. import meanfield as mf

    act = _check_activation(activation)
    check_seed("--seed", seed)
    if sigma_b is None:
        raise SpectraError("--sigma-b is required")
    check_sigma("--sigma-b", sigma_b, bias=True)
    if sigma_w is not None:
        check_sigma("--sigma-w", sigma_w)
    if critical and sigma_w is not None:
        raise SpectraError("give either --critical or --sigma-w, not both")
    if not critical and sigma_w is None:
        raise SpectraError("give --sigma-w W, or --critical to use the critical sigma_w")
    if critical:
        sigma_w = mf.critical_sigma_w(sigma_b, act)
    row = mf.mean_field(sigma_w, sigma_b, act)  # validates sigma_w, sigma_b (one-line errors)

    import pandas as pd

    from ..tables import write_csv

    with command_run(out, seed=seed, device=None, quiet=quiet, critical=critical) as ctx:
        write_csv(pd.DataFrame([row], columns=_COLUMNS), ctx.folder / "meanfield.csv")
    width = max(len(c) for c in _COLUMNS)
    for k in _COLUMNS:
        v = row[k]
        echo(f"{k:<{width}}  {v if isinstance(v, str) else f'{v:.10g}'}", quiet)


@app.command()
def phase(
    activation: ActOpt = "tanh",
    points: Annotated[int, typer.Option("--points", min=2, help="Grid points per axis.")] = 300,
    sigma_w2_min: Annotated[float, typer.Option("--sigma-w2-min")] = 0.5,
    sigma_w2_max: Annotated[float, typer.Option("--sigma-w2-max")] = 4.0,
    sigma_b2_max: Annotated[float, typer.Option("--sigma-b2-max")] = 0.5,
    out: OutOpt = Path("."),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """The (sigma_w^2, sigma_b^2) phase diagram: ordered/chaotic, critical line, xi_c.

    Writes phase.csv (one row per grid point), critical_line.csv (q_star, sigma_w2,
    sigma_b2, ...) and phase.png. Deterministic: --seed is only recorded.
    """
    act = _check_activation(activation)
    check_seed("--seed", seed)
    top = SIGMA_MAX**2
    check_real("--sigma-w2-min", sigma_w2_min, positive=True, maximum=top)
    check_real("--sigma-w2-max", sigma_w2_max, positive=True, maximum=top)
    check_real("--sigma-b2-max", sigma_b2_max, positive=True, maximum=top)
    if not sigma_w2_min < sigma_w2_max:
        raise SpectraError(
            f"--sigma-w2-min {sigma_w2_min:g} must be < --sigma-w2-max {sigma_w2_max:g}"
        )
    check_int("--points", points, 2, None)
    cost = grid_cost("phase grid", points**2, PHASE_POINT_BYTES, PHASE_POINT_SECONDS)
    check_cost({"--points": points}, [cost], force)
    check_int("--points", points, 2)
    import numpy as np

    from ..meanfield import critical_line, phase_grid
    from ..tables import write_csv

    a = np.linspace(sigma_w2_min, sigma_w2_max, points)
    b = np.linspace(0.0, sigma_b2_max, points)
    with command_run(out, seed=seed, device=None, quiet=quiet, activation=act) as ctx:
        with progress_bar("phase grid", 3, quiet) as advance:
            grid = phase_grid(a, b, act, progress=advance)
        line = critical_line(np.logspace(-4, np.log10(20.0), 400), act)
        grid.insert(0, "seed", seed)
        write_csv(grid, ctx.folder / "phase.csv")
        write_csv(line, ctx.folder / "critical_line.csv")
        from ..plots.meanfield import phase_figure

        fig = phase_figure(grid, line)
        fig.savefig(ctx.folder / "phase.png", dpi=130)
    counts = grid["phase"].value_counts().to_dict()
    echo(f"{points}x{points} grid ({act}): {counts}; wrote {out}/phase.csv, phase.png", quiet)


@app.command()
def modes(
    init: Annotated[
        str, typer.Option("--init", help="Comma list of init names (gs0..gs4, gaussian, ...).")
    ] = "gs0,gs1,gs2,gs3,gs4",
    variance: Annotated[
        str | None,
        typer.Option("--variance", help="Explicit variance vector 'v1,v2,...' (k or k*k values)."),
    ] = None,
    size: Annotated[int, typer.Option("--size", min=1, help="Spatial size n.")] = 8,
    kernel: Annotated[int, typer.Option("--kernel", min=1, help="Kernel size k (odd).")] = 3,
    dim: Annotated[int, typer.Option("--dim", min=1, max=2, help="1 or 2.")] = 2,
    sigma_w: Annotated[float | None, typer.Option("--sigma-w")] = None,
    sigma_b: Annotated[float | None, typer.Option("--sigma-b")] = None,
    activation: ActOpt = "tanh",
    out: OutOpt = Path("."),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """Fourier-mode eigenvalues lambda_m and depth scales xi_m of variance vectors.

    chi_c* comes from --sigma-w/--sigma-b (both), else 1 (critical). Writes modes.csv
    and modes.png (the paper's Fig 4(b) for the default GS family on 8x8).
    """
    import numpy as np

    from .. import meanfield as mf

    act = _check_activation(activation)
    check_seed("--seed", seed)
    check_int("--size", size, 1, None)
    check_int("--kernel", kernel, 1)
    if kernel % 2 == 0:
        raise SpectraError(f"--kernel must be odd, got {kernel}")
    check_int("--dim", dim, 1, 2)
    if (sigma_w is None) != (sigma_b is None):
        raise SpectraError("give both --sigma-w and --sigma-b, or neither (chi_c = 1)")
    if sigma_w is not None:
        check_sigma("--sigma-w", sigma_w)
        check_sigma("--sigma-b", sigma_b, bias=True)
    from ..kernels import INIT_NAMES, variance_vector

    taps = kernel**dim
    if variance is not None:
        vals = parse_float_list(variance, "--variance", nonneg=True, maximum=1e6)
        if len(vals) != taps:
            raise SpectraError(
                f"--variance needs {taps} values for --kernel {kernel} --dim {dim}, got {len(vals)}"
            )
        if not sum(vals) > 0:
            raise SpectraError(f"--variance must have a positive entry, got {variance!r}")
        names = ["custom"]
    else:
        names = parse_name_list(init, "--init", INIT_NAMES)
    cost = grid_cost("modes", len(names) * size**dim, MODE_BYTES, MODE_SECONDS)
    check_cost({"--size": size, "--dim": dim}, [cost], force)
    check_int("--size", size, 1)
    chi = 1.0 if sigma_w is None else mf.chi_c(sigma_w, sigma_b, act)
    if variance is not None:
        vectors = {"custom": np.array(vals).reshape((kernel,) * dim)}
    else:
        vectors = {name: variance_vector(name, kernel, dim) for name in names}
    from ..meanfield import fourier_eigenvalues, modes_frame

    for v in vectors.values():
        fourier_eigenvalues(v, size)  # validates before any output
    from ..tables import write_csv

    with command_run(out, seed=seed, device=None, quiet=quiet, chi_c=chi) as ctx:
        df = modes_frame(vectors, size, chi)
        df.insert(0, "seed", seed)
        write_csv(df, ctx.folder / "modes.csv")
        from ..plots.meanfield import modes_figure

        modes_figure(df).savefig(ctx.folder / "modes.png", dpi=130)
    for name, d in df.groupby("name", sort=False):
        echo(
            f"{name}: min|lambda|={d['abs_lambda'].min():.6g} mean|lambda|="
            f"{d['abs_lambda'].mean():.6g}",
            quiet,
        )
