"""The paper's Fig 5 at CPU scale: orthogonal and delta-orthogonal kernels against the
critical Gaussian one, at the same sigma_w, sigma_b (critical, q* = 1/depth), optimiser,
learning rate, batch and seeds. Nothing is tuned per init.

Writes history.csv, summary.csv (steps to --target running train accuracy per init and
the speed-up of each orthogonal init over Gaussian), fig5.png and command.txt to --out.

    python experiments/fig5_orth_vs_gaussian.py --depth 100 --steps 500
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import pandas as pd
from _training import (
    add_optim_args,
    add_run_args,
    run_all,
    run_args,
    run_summary,
    save,
    train_config,
    work_dir,
    write_command,
)

from spectra.plots.training import learning_curves
from spectra.training import steps_to_accuracy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--inits", default="delta-orth,orth,gaussian")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="runs (of any init) that have not reached --target after --steps go on, "
        "--steps at a time, up to this many",
    )
    add_optim_args(p, batch_size=50)
    p.add_argument("--target", type=float, default=0.6)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-size", type=int, default=2000)
    p.add_argument("--seeds", default="0")
    p.add_argument("--dataset", default="fashion-mnist")
    add_run_args(p, out="results/fig5_orth_vs_gaussian")
    a = p.parse_args()
    work = work_dir(a)
    configs = {
        f"{init}-depth{a.depth}-seed{s}": train_config(
            a,
            dataset=a.dataset,
            init=init,
            depth=a.depth,
            eval_size=a.eval_size,
            checkpoint_every=50,
            seed=int(s),
        )
        for s in a.seeds.split(",")
        for init in a.inits.split(",")
    }
    write_command(a.out)
    deadline = None if a.time_limit is None else time.time() + a.time_limit

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.time(), 0.0)

    hist = run_all(configs, work, time_limit=left(), **run_args(a))
    # the same rule for every init: not at the target yet -> train further
    max_steps = a.max_steps or a.steps
    while True:
        todo = {}
        for tag, cfg in configs.items():
            h = hist[hist.run == tag]
            done = int(h.step.max())
            reached = not math.isnan(steps_to_accuracy(h, a.target, window=a.window))
            if not reached and done >= cfg.steps and cfg.steps < max_steps:
                todo[tag] = replace(cfg, steps=min(cfg.steps + a.steps, max_steps))
        if not todo or (deadline is not None and time.time() > deadline):
            break
        configs.update(todo)
        more = run_all(todo, work, time_limit=left(), **run_args(a))
        hist = pd.concat([hist[~hist.run.isin(list(todo))], more], ignore_index=True)
    save(hist, a.out / "history.csv")
    rows = [run_summary(run, h, a.target, a.window) for run, h in hist.groupby("run", sort=False)]
    summ = pd.DataFrame(rows)
    g = summ[summ.init == "gaussian"].set_index("seed")
    speed, bound = [], []
    for r in summ.itertuples():
        gs = g["steps_to_target"].get(r.seed, math.nan)
        speed.append(gs / r.steps_to_target)
        # Gaussian never got there: its step budget gives a lower bound on the speed-up
        bound.append(
            g["steps"].get(r.seed, math.nan) / r.steps_to_target
            if gs != gs
            else gs / r.steps_to_target
        )
    summ["speedup_vs_gaussian"] = speed
    summ["speedup_at_least"] = bound
    save(summ, a.out / "summary.csv")
    print(summ.to_string(index=False))
    learning_curves(hist, hue="run").savefig(a.out / "fig5.png", dpi=120)


if __name__ == "__main__":
    main()
