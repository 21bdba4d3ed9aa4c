"""Ultra-deep delta-orthogonal tanh CNNs on Fashion-MNIST: does learning time depend on
depth? (Paper Sec. 5: depths 10-200 on the CPU and, on a GPU, depth 1000.)

For each depth, one run at the critical point with q* = 1/depth, the library's defaults
for the deep regime (matched block input, 1/sqrt(q*) readout, depth-scaled learning
rates: see the README (training section)). Writes to --out:

* history.csv: every run's history (the ``run`` column is ``depth<L>``);
* summary.csv: per depth, steps to ``--target`` running train accuracy (50-step mean),
  final running train accuracy, last test accuracy, mean seconds per step over the first
  and the last 10% of the run (step time must stay flat);
* ultradeep.png: learning curves; steps_vs_depth.png: steps to target against depth;
* command.txt: the command line that made them.

CPU (this machine):  python experiments/ultradeep.py --depths 10,25,50,100,200
GPU (H200):          python experiments/ultradeep.py --depths 1000 --channels 128 \
                       --steps 1500 --batch-size 100 --checkpoint-every 500 \
                       --time-limit 200 --device cuda --data-dir data/fashion-mnist \
                       --out results/ultradeep_gpu
"""

from __future__ import annotations

import argparse
import math

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

from spectra.plots.training import learning_curves, steps_vs_depth


def summarise(hist: pd.DataFrame, target: float, window: int) -> pd.DataFrame:
    rows = []
    for run, h in hist.groupby("run", sort=False):
        tr = h[h.split == "train"].sort_values("step")
        dt = tr["seconds"].diff().dropna()
        k = max(len(dt) // 10, 1)
        rows.append(
            {
                **run_summary(run, h, target, window, channels=True),
                "sec_per_step_first": float(dt.iloc[:k].median()),
                "sec_per_step_last": float(dt.iloc[-k:].median()),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depths", default="10,25,50,100,200")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--steps", type=int, default=600)
    add_optim_args(p, batch_size=50)
    p.add_argument("--init", default="delta-orth")
    p.add_argument("--target", type=float, default=0.6)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--checkpoint-every", type=int, default=50)
    add_run_args(p, out="results/ultradeep")
    a = p.parse_args()
    depths = [int(d) for d in a.depths.split(",")]
    configs = {
        f"depth{d}": train_config(
            a,
            dataset=a.dataset,
            init=a.init,
            depth=d,
            eval_size=a.eval_size,
            checkpoint_every=a.checkpoint_every,
            seed=a.seed,
        )
        for d in depths
    }
    write_command(a.out)
    hist = run_all(configs, work_dir(a), time_limit=a.time_limit, **run_args(a))
    save(hist, a.out / "history.csv")
    summ = summarise(hist, a.target, a.window)
    save(summ, a.out / "summary.csv")
    print(summ.to_string(index=False))
    learning_curves(hist, hue="depth").savefig(a.out / "ultradeep.png", dpi=120)
    plot = summ.assign(steps_to_target=summ["steps_to_target"].fillna(math.nan))
    steps_vs_depth(plot, target=a.target).savefig(a.out / "steps_vs_depth.png", dpi=120)


if __name__ == "__main__":
    main()
