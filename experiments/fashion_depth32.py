"""Acceptance 1 of issue 5: Fashion-MNIST, delta-orthogonal at the critical point
(q* = 1/depth), depth 32, c = 16: the learning curve and the test accuracy it reaches.

Writes history.csv, summary.csv (best and last test accuracy), fashion_depth32.png and
command.txt to --out. Resumable: rerun the same command to continue an interrupted run.

    python experiments/fashion_depth32.py --steps 3000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _training import run_all, save, write_command

from spectra.plots.training import learning_curves
from spectra.train import TrainConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=32)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=5e-2)
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--lr-scaling", default="depth", help="depth | qstar | none")
    p.add_argument("--init", default="delta-orth")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=None, help="seconds; stop and report")
    p.add_argument("--out", type=Path, default=Path("results/fashion_depth32"))
    p.add_argument("--work", type=Path, default=None)
    a = p.parse_args()
    work = a.work or Path("/tmp/spectra-work") / a.out.name
    cfg = TrainConfig(
        dataset="fashion-mnist",
        init=a.init,
        depth=a.depth,
        channels=a.channels,
        steps=a.steps,
        lr=a.lr,
        batch_size=a.batch_size,
        optimizer=a.optimizer,
        lr_scaling=a.lr_scaling,
        eval_every=a.eval_every,
        eval_size=None,
        checkpoint_every=50,
        seed=a.seed,
    )
    write_command(a.out)
    hist = run_all(
        {f"depth{a.depth}": cfg},
        work,
        data_dir=a.data_dir,
        device=a.device,
        threads=a.threads,
        time_limit=a.time_limit,
    )
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
