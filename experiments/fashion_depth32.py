"""Fashion-MNIST, delta-orthogonal at the critical point
(q* = 1/depth), depth 32, c = 16: the learning curve and the test accuracy it reaches.

Writes history.csv, summary.csv (best and last test accuracy), fashion_depth32.png and
command.txt to --out. Resumable: rerun the same command to continue an interrupted run.

    python experiments/fashion_depth32.py --steps 3000
"""

from __future__ import annotations

import argparse

import pandas as pd
from _training import (
    add_optim_args,
    add_run_args,
    run_all,
    run_args,
    save,
    train_config,
    work_dir,
    write_command,
)

from spectra.plots.training import learning_curves


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=32)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--steps", type=int, default=3000)
    add_optim_args(p, batch_size=100)
    p.add_argument("--init", default="delta-orth")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    add_run_args(p, out="results/fashion_depth32")
    a = p.parse_args()
    cfg = train_config(
        a,
        dataset="fashion-mnist",
        init=a.init,
        depth=a.depth,
        eval_size=None,
        checkpoint_every=50,
        seed=a.seed,
    )
    write_command(a.out)
    hist = run_all({f"depth{a.depth}": cfg}, work_dir(a), time_limit=a.time_limit, **run_args(a))
    save(hist, a.out / "history.csv")
    te = hist[hist.split == "test"]
    summ = pd.DataFrame(
        [
            {
                "init": a.init,
                "depth": a.depth,
                "channels": a.channels,
                "seed": a.seed,
                "steps": int(hist["step"].max()),
                "best_test_accuracy": float(te.accuracy.max()),
                "best_at_step": int(te.step[te.accuracy.idxmax()]),
                "last_test_accuracy": float(te.accuracy.iloc[-1]),
            }
        ]
    )
    save(summ, a.out / "summary.csv")
    print(summ.to_string(index=False))
    learning_curves(hist).savefig(a.out / "fashion_depth32.png", dpi=120)


if __name__ == "__main__":
    main()
