"""``spectra train``, ``spectra correlate`` and ``spectra trainability``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import (
    SEED_MAX,
    SIGMA_MAX,
    check_choice,
    check_int,
    check_q_star,
    check_real,
    check_seed,
    check_sigma,
)
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
    parse_float_list,
    parse_int_list,
    parse_name_list,
    progress_bar,
    resolve_device,
)
from .cost import Cost, check_cost, train_cost

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder holding the data set files (see spectra.data)."),
]
# Training options shared by `train`, `correlate` and `trainability` (defaults differ).
DatasetOpt = Annotated[str, typer.Option(help="fashion-mnist | mnist | cifar10 | digits")]
ChannelsOpt = Annotated[int, typer.Option(min=1)]
BatchSizeOpt = Annotated[int, typer.Option(min=1)]
OptimizerOpt = Annotated[str, typer.Option(help="sgd | adam")]
# ... and by the two sweeps only (`train` documents these at more length).
SweepLrOpt = Annotated[float, typer.Option()]
SweepMomentumOpt = Annotated[float, typer.Option()]
SweepLrScalingOpt = Annotated[str, typer.Option(help="depth | qstar | none")]
DepthsOpt = Annotated[str, typer.Option(help="Comma-separated depths.")]


#: What a training run carries over between runs on one --out (spectra.outputs).
RESUME = ("checkpoint.pt", "history.csv")
#: What a sweep carries over: its job cache.
SWEEP_RESUME = ("jobs",)


@app.command("train")
def train_cmd(
    out: OutOpt,
    dataset: DatasetOpt = "fashion-mnist",
    data_dir: DataDirOpt = None,
    init: Annotated[str, typer.Option(help="gaussian | orth | delta-orth | gs0..gs4")] = (
        "delta-orth"
    ),
    depth: Annotated[int, typer.Option(min=1, help="Convolutions in the block.")] = 10,
    channels: ChannelsOpt = 16,
    steps: Annotated[int, typer.Option(min=0, help="Total SGD/Adam steps.")] = 1000,
    lr: Annotated[float, typer.Option(help="Base learning rate (SGD; Adam wants ~1e-3).")] = 5e-2,
    batch_size: BatchSizeOpt = 100,
    optimizer: OptimizerOpt = "sgd",
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.9,
    eval_every: Annotated[int, typer.Option(min=1, help="Evaluate every N steps.")] = 100,
    eval_size: Annotated[
        int | None, typer.Option(min=1, help="Evaluate on the first N test images.")
    ] = None,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 50,
    sigma_w: Annotated[float | None, typer.Option("--sigma-w")] = None,
    sigma_b: Annotated[float | None, typer.Option("--sigma-b")] = None,
    q_star: Annotated[float | None, typer.Option("--q-star", help="Default 1/depth.")] = None,
    lr_scaling: Annotated[
        str, typer.Option(help="depth (what deep nets need) | qstar (depth >~ 1000) | none")
    ] = "depth",
    threads: Annotated[
        int, typer.Option(min=0, help="torch CPU threads (0: torch's default).")
    ] = 0,
    block_route: Annotated[
        str, typer.Option(help="auto (native where built) | native | torch")
    ] = "auto",
    segment: Annotated[
        int, typer.Option(min=0, help="Recompute the block in segments of N layers (0: off).")
    ] = 0,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "float32",
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """Train one vanilla CNN; writes history.csv, checkpoint.pt, learning_curve.png.

    Running the same command on the same --out resumes from the last checkpoint
    (an interrupted run keeps it in .<out>.resume beside --out).
    """
    _check_run(depth, channels, steps, batch_size, lr, momentum, seed)
    for name, value in (("--eval-every", eval_every), ("--checkpoint-every", checkpoint_every)):
        check_int(name, value, 1)
    if eval_size is not None:
        check_int("--eval-size", eval_size, 1)
    check_int("--threads", threads, 0, MAX_THREADS)
    check_operating_point(sigma_w, sigma_b, q_star)
    sizes = {"--depth": depth, "--channels": channels, "--batch-size": batch_size}
    sizes["--steps"] = steps
    # before any heavy import: even on the smallest images (8 x 8) the run must fit
    check_cost(sizes, [_train_cost(depth, channels, batch_size, steps, 8, dtype)], force)
    for name, value in sizes.items():
        check_int(name, value, 0 if name == "--steps" else 1)
    from ..training import TrainConfig

    cfg = TrainConfig(
        dataset=dataset,
        init=init,
        depth=depth,
        channels=channels,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        momentum=momentum,
        eval_every=eval_every,
        eval_size=eval_size,
        checkpoint_every=checkpoint_every,
        sigma_w=sigma_w,
        sigma_b=sigma_b,
        q_star=q_star,
        lr_scaling=lr_scaling,
        dtype=dtype,
        seed=seed,
        block_route=block_route,
        segment=segment,
    )
    cfg.validate()
    dev = resolve_device(device)
    from ..data import load_dataset
    from ..training import check_resumable, train

    data = load_dataset(dataset, data_dir)
    n_eval = len(data.y_test) if eval_size is None else min(eval_size, len(data.y_test))
    cost = _train_cost(
        depth, channels, batch_size, steps, data.image_size, dtype, steps // eval_every, n_eval
    )
    check_cost(sizes, [cost], force)
    if threads:
        import torch

        torch.set_num_threads(threads)
    with command_run(
        out, seed=seed, device=dev, quiet=quiet, resume=RESUME, config=cfg.identity()
    ) as ctx:  # holds the lock on --out from the resume check to the commit
        check_resumable(cfg, ctx.folder)
        done = _steps_done(ctx.folder)
        with progress_bar(f"train depth {depth}", steps, quiet) as advance:
            advance(min(done, steps))
            hist = train(cfg, ctx.folder, data=data, device=dev, progress=advance)
        from ..plots.training import learning_curves

        fig = learning_curves(hist)
        fig.savefig(ctx.folder / "learning_curve.png", dpi=120)
        te = hist[hist["split"] == "test"]
        if len(te):
            last = te.iloc[-1]
            echo(f"step {int(last['step'])}: test accuracy {last['accuracy']:.4f}", quiet)


#: The most torch CPU threads --threads may ask for.
MAX_THREADS = 4096
#: The largest base learning rate: beyond it one SGD step moves a unit-scale weight by
#: more than 100 times its gradient, and float32 parameters overflow within a few steps.
LR_MAX = 100.0


def _check_run(depth, channels, steps, batch_size, lr, momentum, seed) -> None:
    """The options every training command shares, torch-free: counts (their int64 bound
    after the cost estimate), the learning rate, the momentum and the seed."""
    for name, value in (("--depth", depth), ("--channels", channels), ("--batch-size", batch_size)):
        check_int(name, value, 1, None)
    check_int("--steps", steps, 0, None)
    check_real("--lr", lr, positive=True, maximum=LR_MAX)
    check_real("--momentum", momentum, nonneg=True, maximum=0.999999)
    check_seed("--seed", seed)


def _train_cost(depth, channels, batch, steps, side, dtype, evals=0, eval_images=0):
    return train_cost(
        depth=depth,
        channels=channels,
        batch_size=batch,
        steps=steps,
        image_side=side,
        itemsize=8 if dtype == "float64" else 4,
        evaluations=evals,
        eval_images=eval_images,
    )


def _check_sweep_cost(sizes, depths, runs, channels, batch, steps, workers, force) -> None:
    """A sweep of ``runs`` trainings per depth (on images of at least 8 x 8), ``workers`` at
    once: their summed time must fit, and ``workers`` of the deepest at once in memory;
    then every count within int64."""
    costs = [_train_cost(d, channels, batch, steps, 8, "float32") for d in depths]
    total = Cost(
        "sweep",
        workers * max(c.bytes for c in costs),
        runs * sum(c.seconds for c in costs) / workers,
    )
    check_cost(sizes, [total], force)
    for d in depths:
        check_int("each --depths value", d, 1)
    for name, value in (("--channels", channels), ("--batch-size", batch), ("--steps", steps)):
        check_int(name, value, 1)


def _steps_done(out: Path) -> int:
    hist = Path(out) / "history.csv"
    if not hist.exists():
        return 0
    import pandas as pd

    df = pd.read_csv(hist)
    tr = df[df["split"] == "train"]
    return int(tr["step"].max()) if len(tr) else 0


SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); default: local."),
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="Local worker processes.")]


def _run_sweep(label, job, configs, folder: Path, scheduler, workers: int, quiet: bool):
    """Run a sweep's jobs (cached in ``folder/jobs``: the staging folder, seeded from
    OUT/jobs) behind a progress bar; their DataFrame."""
    from ..sweep import run_jobs

    with progress_bar(label, len(configs), quiet) as advance:
        return run_jobs(
            job, configs, folder / "jobs", scheduler=scheduler, workers=workers, progress=advance
        )


@app.command("correlate")
def correlate_cmd(
    out: OutOpt,
    dataset: DatasetOpt = "digits",
    data_dir: DataDirOpt = None,
    inits: Annotated[str, typer.Option(help="Comma-separated init names.")] = (
        "gaussian,orth,delta-orth"
    ),
    depths: DepthsOpt = "4,16,64,128",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds (one run each).")] = "0",
    channels: ChannelsOpt = 8,
    steps: Annotated[int, typer.Option(min=1, help="Training steps per run (K).")] = 300,
    target: Annotated[float, typer.Option(help="Target running train accuracy.")] = 0.8,
    window: Annotated[int, typer.Option(min=1, help="Running-mean length (steps).")] = 20,
    lr: SweepLrOpt = 1e-2,
    optimizer: OptimizerOpt = "sgd",
    momentum: SweepMomentumOpt = 0.9,
    batch_size: BatchSizeOpt = 64,
    lr_scaling: SweepLrScalingOpt = "depth",
    q_star: Annotated[
        float | None,
        typer.Option(
            "--q-star",
            help="Fixed q* for every depth (critical sigma_w, sigma_b for it); default "
            "1/depth, where orthogonal nets stay isometric at every depth.",
        ),
    ] = None,
    statistic: Annotated[str, typer.Option(help="Headline spectral statistic.")] = "var_sq",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """Jacobian conditioning at init vs training speed over inits x depths x seeds.

    Writes correlation.csv (one row per run), spearman.csv and correlate.png; finished
    runs are cached in OUT/jobs/ so an interrupted sweep resumes.
    """
    from ..errors import SpectraError

    depth_list = parse_int_list(depths, "--depths", 1, None)
    _check_run(max(depth_list), channels, steps, batch_size, lr, momentum, seed)
    seed_list = parse_int_list(seeds, "--seeds", minimum=0, maximum=SEED_MAX)
    check_int("--window", window, 1)
    check_int("--workers", workers, 1, MAX_THREADS)
    check_real("--target", target, positive=True, maximum=1.0)
    if q_star is not None:
        check_q_star("--q-star", q_star)
    sizes = {"--depths": depths, "--channels": channels, "--batch-size": batch_size}
    sizes.update({"--steps": steps, "--seeds": seeds})
    _check_sweep_cost(
        sizes, depth_list, len(seed_list), channels, batch_size, steps, workers, force
    )
    from ..data import load_dataset
    from ..kernels import INIT_NAMES
    from ..studies import SPECTRAL_STATS, correlate_grid, correlate_job, spearman_table

    init_list = parse_name_list(inits, "--inits", INIT_NAMES)
    runs = len(init_list) * len(seed_list)
    _check_sweep_cost(sizes, depth_list, runs, channels, batch_size, steps, workers, force)
    check_choice("--statistic", statistic, SPECTRAL_STATS)
    if resolve_device(device) != "cpu":
        raise SpectraError("correlate runs its jobs on the CPU; use --device cpu")
    configs = correlate_grid(
        init_list,
        depth_list,
        seed_list,
        seed=seed,
        q_star=q_star,
        data_dir=data_dir,
        dataset=dataset,
        channels=channels,
        steps=steps,
        target=target,
        window=window,
        lr=lr,
        optimizer=optimizer,
        momentum=momentum,
        batch_size=batch_size,
        lr_scaling=lr_scaling,
    )
    if len(configs) < 3:
        raise SpectraError(
            f"--inits x --depths x --seeds give {len(configs)} runs; a rank correlation "
            "needs at least 3"
        )
    load_dataset(dataset, data_dir)  # fail fast, before any file is written
    from ..tables import write_csv

    with command_run(
        out, seed=seed, device="cpu", quiet=quiet, resume=SWEEP_RESUME, jobs=len(configs)
    ) as ctx:
        df = _run_sweep("correlate", correlate_job, configs, ctx.folder, scheduler, workers, quiet)
        rho = spearman_table(df)
        write_csv(df, ctx.folder / "correlation.csv")
        write_csv(rho, ctx.folder / "spearman.csv")
        from ..plots.training import correlation_scatter

        head = rho[(rho.statistic == statistic) & (rho.speed == "steps_to_target")]
        r = float(head["rho"].iloc[0])
        plot_df = df.assign(steps_to_target=df["steps_to_target"].fillna(steps + 1))
        fig = correlation_scatter(
            plot_df,
            x=statistic,
            y="steps_to_target",
            rho=r,
            ylabel=f"steps to {target:.0%} (never: {steps + 1})",
        )
        fig.savefig(ctx.folder / "correlate.png", dpi=120)
        echo(f"Spearman rho({statistic}, steps_to_target) = {r:.3f} over {len(df)} runs", quiet)


@app.command("trainability")
def trainability_cmd(
    out: OutOpt,
    dataset: DatasetOpt = "digits",
    data_dir: DataDirOpt = None,
    init: Annotated[str, typer.Option()] = "gaussian",
    sigma_w2: Annotated[
        str, typer.Option("--sigma-w2", help="Comma-separated sigma_w^2 values.")
    ] = "0.6,0.8,1.0,1.2,1.4,1.6,2.0,2.5,3.0",
    sigma_b: Annotated[float, typer.Option("--sigma-b")] = 0.05,
    depths: DepthsOpt = "10,20,40,80,140,200",
    channels: ChannelsOpt = 8,
    steps: Annotated[int, typer.Option(min=1, help="K: training steps per cell.")] = 200,
    lr: SweepLrOpt = 1e-2,
    optimizer: OptimizerOpt = "sgd",
    momentum: SweepMomentumOpt = 0.9,
    batch_size: BatchSizeOpt = 64,
    lr_scaling: SweepLrScalingOpt = "depth",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 1,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
    force: ForceOpt = False,
) -> None:
    """The paper's Fig 2: accuracy after K steps over (sigma_w^2, depth), with c*xi_c.

    Writes trainability.csv, fit.csv (the fitted c), xi_c.csv and trainability.png.
    """
    import pandas as pd

    from ..errors import SpectraError

    top = SIGMA_MAX**2
    sw2 = parse_float_list(sigma_w2, "--sigma-w2", positive=True, maximum=top)
    check_sigma("--sigma-b", sigma_b, bias=True)
    depth_list = parse_int_list(depths, "--depths", 1, None)
    _check_run(max(depth_list), channels, steps, batch_size, lr, momentum, seed)
    check_int("--workers", workers, 1, MAX_THREADS)
    sizes = {"--depths": depths, "--sigma-w2": sigma_w2, "--channels": channels}
    sizes.update({"--batch-size": batch_size, "--steps": steps})
    _check_sweep_cost(sizes, depth_list, len(sw2), channels, batch_size, steps, workers, force)
    from ..data import load_dataset
    from ..studies import fit_depth_scale, trainability_grid, trainability_job, xi_c_curve

    if resolve_device(device) != "cpu":
        raise SpectraError("trainability runs its jobs on the CPU; use --device cpu")
    configs = trainability_grid(
        sw2,
        depth_list,
        data_dir=data_dir,
        dataset=dataset,
        init=init,
        channels=channels,
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        momentum=momentum,
        batch_size=batch_size,
        lr_scaling=lr_scaling,
        sigma_b=sigma_b,
        seed=seed,
        window=20,
    )
    load_dataset(dataset, data_dir)
    from ..tables import write_csv

    with command_run(
        out, seed=seed, device="cpu", quiet=quiet, resume=SWEEP_RESUME, jobs=len(configs)
    ) as ctx:
        df = _run_sweep(
            "trainability", trainability_job, configs, ctx.folder, scheduler, workers, quiet
        )
        fit = fit_depth_scale(df)
        curve = xi_c_curve((min(sw2), max(sw2)), sigma_b, fit["c"], seed)
        write_csv(df, ctx.folder / "trainability.csv")
        write_csv(
            pd.DataFrame([{**fit, "sigma_b": sigma_b, "steps": steps, "seed": seed}]),
            ctx.folder / "fit.csv",
        )
        write_csv(curve, ctx.folder / "xi_c.csv")
        from ..plots.training import trainability_heatmap

        shown = curve[curve["depth"] <= 1.5 * max(depth_list)]
        fig = trainability_heatmap(df, curve=shown, fit_c=fit["c"])
        fig.savefig(ctx.folder / "trainability.png", dpi=120)
        echo(f"fitted c = {fit['c']:.3g} (cells agreeing: {fit['agreement']:.0%})", quiet)
