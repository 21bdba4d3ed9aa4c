"""``spectra density``: the free-probability density of the eigenvalues of J Jᵀ.

A thin wrapper over :func:`spectra.rmt.density_frame` (the theory page [T25]–[T34]); heavy
imports stay inside the command body so start-up is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import SpectraError, check_choice, check_int, check_q_star, check_seed, check_sigma
from .common import ForceOpt, OutOpt, QuietOpt, SeedOpt, app, command_run, echo
from .cost import check_cost, grid_cost

#: Per grid point: memory and time of the density grid and its figure (measured: 9 KB,
#: 1.1e-4 s per point between 2,000 and 40,000 points).
POINT_BYTES, POINT_SECONDS = 9e3, 1e-4

#: density.csv: the DESIGN contract columns first, then extensions.
COLUMNS = [
    "weights",
    "activation",
    "depth",
    "sigma_w",
    "sigma_b",
    "q_star",
    "lambda",
    "density",
    "log_lambda",
    "density_log",
    "cdf",
    "atom",
    "seed",
]


@app.command()
def density(
    weights: Annotated[str, typer.Option("--weights", help="gaussian | orth.")],
    depth: Annotated[int, typer.Option("--depth", min=1, help="Number of layers L (>= 1).")],
    activation: Annotated[
        str, typer.Option("--activation", help="tanh | erf | relu | linear.")
    ] = "tanh",
    q_star: Annotated[
        float | None,
        typer.Option("--q-star", help="q* of the critical point to use (default 1/depth)."),
    ] = None,
    sigma_w: Annotated[float | None, typer.Option("--sigma-w", help="Weight std.")] = None,
    sigma_b: Annotated[float | None, typer.Option("--sigma-b", help="Bias std.")] = None,
    points: Annotated[int, typer.Option("--points", min=16, help="Grid points.")] = 2000,
    out: OutOpt = Path("."),
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """Limiting density of the eigenvalues λ = s² of J Jᵀ for a depth-L network.

    Writes density.csv (weights, activation, depth, sigma_w, sigma_b, q_star, lambda,
    density, then log_lambda, density_log = λρ(λ), cdf, atom, seed), density.png and
    run.json. The operating point is the critical one with q* = 1/depth unless --q-star
    (critical with that q*), --sigma-b alone (critical at that bias) or --sigma-w with
    --sigma-b is given. No randomness: --seed is only recorded.
    """
    check_int("--depth", depth, 1)
    check_int("--points", points, 16, None)
    check_seed("--seed", seed)
    if q_star is not None:
        check_q_star("--q-star", q_star)
    if q_star is not None and (sigma_w is not None or sigma_b is not None):
        raise SpectraError("give either --q-star or --sigma-w/--sigma-b, not both")
    if sigma_w is not None and sigma_b is None:
        raise SpectraError("--sigma-w needs --sigma-b (--sigma-b alone: the critical point)")
    if sigma_w is not None:
        check_sigma("--sigma-w", sigma_w)
    if sigma_b is not None:
        check_sigma("--sigma-b", sigma_b, bias=True)
    cost = grid_cost("density grid", points, POINT_BYTES, POINT_SECONDS)
    check_cost({"--points": points}, [cost], force)
    check_int("--points", points, 16)

    from ..activations import ACTIVATIONS
    from ..rmt import weight_law

    act = check_choice("--activation", activation.lower(), ACTIVATIONS)
    kappa = weight_law(weights)

    from ..plots.rmt import density_figure
    from ..rmt import density_frame
    from ..tables import write_csv

    try:
        frame = density_frame(
            depth,
            "orth" if kappa else "gaussian",
            sigma_w=sigma_w,
            sigma_b=sigma_b,
            q_star=q_star,
            activation=act,
            points=points,
        )
    except (RuntimeError, FloatingPointError) as e:  # the solver's own failure report
        raise SpectraError(
            f"no density for --weights {weights} --depth {depth} at this operating point: {e}"
        ) from None
    a = frame.attrs
    with command_run(out, seed=seed, device=None, quiet=quiet, command="density") as ctx:
        table = frame[["lambda", "density", "log_lambda", "density_log", "cdf", "atom"]].copy()
        for key in ("weights", "activation", "depth", "sigma_w", "sigma_b", "q_star"):
            table[key] = a[key]
        table["seed"] = seed
        write_csv(table[COLUMNS], ctx.folder / "density.csv")
        title = (
            f"J Jᵀ, {a['weights']} {a['activation']}, L = {a['depth']}, "
            f"σ_w = {a['sigma_w']:.6g}, σ_b = {a['sigma_b']:.3g}, q* = {a['q_star']:.3g}"
        )
        fig = density_figure(table, title=title)
        fig.savefig(ctx.folder / "density.png", dpi=120)
        ctx.meta.update(
            mass_before_normalising=a["mass"],
            log_support=list(a["log_support"]),
            point_mass=a["point_mass"],
        )
    lo, hi = a["log_support"]
    echo(
        f"density of J Jᵀ: support e^{lo:.4g} … e^{hi:.4g}, raw mass {a['mass']:.8f} "
        f"→ {out / 'density.csv'}",
        quiet,
    )
