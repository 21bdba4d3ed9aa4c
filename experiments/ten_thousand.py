"""Ten thousand layers on Fashion-MNIST: delta-orthogonal tanh CNNs at the critical point
(q* = 1/depth), depth 10 to 10,000, with orth and critical Gaussian at depth 1,000 under
the same settings (paper Sec. 5 and Fig. 5, at depth).

Every run uses one rule for all depths: c = 16, batch 50, SGD with momentum 0.9, base
learning rate 5e-2, the library's deep-regime scales (matched block input, 1/sqrt(q*)
readout) and ``--lr-scaling`` (default ``qstar``, see results/ten_thousand/README.md for
the study behind it); no per-depth or per-init tuning. Runs live in ``--work`` (checkpoints,
resumable: rerun the same command after an interruption and each run continues from its
last checkpoint, every step exactly once); ``--steps`` may be raised between sittings.

Groups of runs (``--group``, comma-separated):

* ``headline``: delta-orth, depth 10,000, seed 0;
* ``sweep``: delta-orth at depths 10, 100, 1,000 (seeds 0, 1) and 3,000 (seed 0), orth and
  Gaussian at depth 1,000 (seed 0), delta-orth depth 10,000 seed 1;
* ``lrstudy``: ``depth`` vs ``qstar`` scaling at depths 10, 100, 1,000, seeds 0 and 1,
  ``--study-steps`` steps each.

``--report`` trains nothing: it reads every run under ``--work`` and writes to ``--out``
``steps_to_60.csv`` (depth, seed, init, steps_to_60: first step at which the 50-step
running train accuracy reaches 60%, empty if not yet), ``summary.csv`` (steps done, best
and last test accuracy, median seconds per step over the first and last 10% of the run,
total seconds), ``lr_study.csv``, ``runs/<run>.csv`` (each run's history; it has the
``depth`` column), ``learning_curves.png``, ``steps_to_60.png``.

    python experiments/ten_thousand.py --group headline --work /work/runs/ten_thousand
    python experiments/ten_thousand.py --report --work /work/runs/ten_thousand
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from _training import run_all, save, write_command

from spectra.plots.training import learning_curves, steps_vs_depth
from spectra.training import TrainConfig, read_history, steps_to_accuracy

TARGET, WINDOW = 0.6, 50


def _config(init: str, depth: int, seed: int, a, *, scaling=None, steps=None) -> TrainConfig:
    deep = depth >= 1000
    return TrainConfig(
        dataset="fashion-mnist",
        init=init,
        depth=depth,
        channels=a.channels,
        steps=steps or a.steps,
        lr=a.lr,
        batch_size=a.batch_size,
        lr_scaling=scaling or a.lr_scaling,
        eval_every=50 if deep else 100,
        eval_size=2000,
        checkpoint_every=10 if depth >= 3000 else 50,
        segment=a.segment if depth >= 3000 else 0,
        seed=seed,
    )


def configs(group: str, a) -> dict[str, TrainConfig]:
    """The runs of one group, by tag (the tag is the run's folder under --work)."""
    runs: dict[str, TrainConfig] = {}
    if group == "headline":
        runs["delta-orth_L10000_s0"] = _config("delta-orth", 10_000, 0, a)
    elif group == "sweep":
        for depth, seeds in ((10, (0, 1)), (100, (0, 1)), (1000, (0, 1)), (3000, (0,))):
            for s in seeds:
                runs[f"delta-orth_L{depth}_s{s}"] = _config("delta-orth", depth, s, a)
        for init in ("orth", "gaussian"):
            runs[f"{init}_L1000_s0"] = _config(init, 1000, 0, a)
        runs["delta-orth_L10000_s1"] = _config("delta-orth", 10_000, 1, a)
    elif group == "lrstudy":
        for depth in (10, 100, 1000):
            for scaling in ("depth", "qstar"):
                for s in (0, 1):
                    tag = f"lr-{scaling}_L{depth}_s{s}"
                    runs[tag] = _config(
                        "delta-orth", depth, s, a, scaling=scaling, steps=a.study_steps
                    )
    else:
        raise SystemExit(f"unknown group {group!r}; choose headline, sweep, lrstudy")
    return runs


def _histories(work: Path) -> dict[str, pd.DataFrame]:
    return {
        d.name: read_history(d)
        for d in sorted(work.iterdir())
        if (d / "history.csv").exists() and (d / "checkpoint.pt").exists()
    }


def _summary(tag: str, h: pd.DataFrame) -> dict:
    tr = h[h.split == "train"].sort_values("step")
    te = h[h.split == "test"].sort_values("step")
    dt = tr["seconds"].diff().dropna()
    k = max(len(dt) // 10, 1)
    return {
        "run": tag,
        "init": h["init"].iloc[0],
        "depth": int(h["depth"].iloc[0]),
        "seed": int(h["seed"].iloc[0]),
        "steps_done": int(tr["step"].max()) if len(tr) else 0,
        "steps_to_60": steps_to_accuracy(h, TARGET, window=WINDOW) if len(tr) else math.nan,
        "best_test_accuracy": float(te["accuracy"].max()),
        "last_test_accuracy": float(te["accuracy"].iloc[-1]),
        "sec_per_step_first": float(dt.iloc[:k].median()) if len(dt) else math.nan,
        "sec_per_step_last": float(dt.iloc[-k:].median()) if len(dt) else math.nan,
        "total_seconds": float(tr["seconds"].max()) if len(tr) else 0.0,
    }


def _lr_study(hists: dict[str, pd.DataFrame], steps: int) -> pd.DataFrame:
    rows = []
    for tag, h in hists.items():
        if not tag.startswith("lr-"):
            continue
        tr = h[(h.split == "train") & (h.step <= steps)].sort_values("step")
        rows.append(
            {
                "lr_scaling": tag.split("_")[0][3:],
                "depth": int(h["depth"].iloc[0]),
                "seed": int(h["seed"].iloc[0]),
                "steps": int(tr["step"].max()),
                "max_loss_first_20": float(tr["loss"].iloc[:20].max()),
                "train_accuracy_last_50": float(tr["accuracy"].iloc[-50:].mean()),
                "steps_to_60": steps_to_accuracy(h[h.step <= steps], TARGET, window=WINDOW),
            }
        )
    return pd.DataFrame(rows).sort_values(["depth", "lr_scaling", "seed"])


def report(a) -> None:
    hists = _histories(a.work)
    main = {t: h for t, h in hists.items() if not t.startswith("lr-")}
    main = {t: h for t, h in main.items() if (h.split == "train").any()}
    if not main:
        raise SystemExit(f"no run under {a.work} has trained a step yet")
    out: Path = a.out
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for tag, h in hists.items():
        save(h, out / "runs" / f"{tag}.csv")
    summ = pd.DataFrame([_summary(t, h) for t, h in main.items()])
    summ = summ.sort_values(["init", "depth", "seed"])
    save(summ, out / "summary.csv")
    save(summ[["depth", "seed", "init", "steps_to_60"]], out / "steps_to_60.csv")
    if any(t.startswith("lr-") for t in hists):
        save(_lr_study(hists, a.study_steps), out / "lr_study.csv")
    print(summ.to_string(index=False))
    delta = pd.concat([h.assign(run=t) for t, h in main.items() if t.startswith("delta-orth")])
    fig = learning_curves(delta[delta.seed == 0], hue="depth", window=WINDOW)
    fig.savefig(out / "learning_curves.png", dpi=120)
    at1000 = [h for t, h in main.items() if "_L1000_s0" in t]
    if at1000:
        fig = learning_curves(pd.concat(at1000), hue="init", window=WINDOW)
        fig.savefig(out / "inits_depth1000.png", dpi=120)
    plot = summ.rename(columns={"steps_to_60": "steps_to_target"})
    steps_vs_depth(plot, target=TARGET).savefig(out / "steps_to_60.png", dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--group", default="headline", help="headline | sweep | lrstudy (a,b,...)")
    p.add_argument("--report", action="store_true", help="only write --out from --work")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--study-steps", type=int, default=200)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--lr", type=float, default=5e-2)
    p.add_argument("--lr-scaling", default="qstar")
    p.add_argument("--segment", type=int, default=0, help="recompute segments (depth >= 3000)")
    p.add_argument("--only", default=None, help="comma-separated run tags of the groups")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=None, help="seconds; stop and report")
    p.add_argument("--work", type=Path, default=Path("/work/runs/ten_thousand"))
    p.add_argument("--out", type=Path, default=Path("results/ten_thousand"))
    a = p.parse_args()
    if a.report:
        write_command(a.out)
        report(a)
        return
    runs: dict[str, TrainConfig] = {}
    for g in a.group.split(","):
        runs.update(configs(g, a))
    if a.only:
        keep = set(a.only.split(","))
        runs = {t: c for t, c in runs.items() if t in keep}
    a.work.mkdir(parents=True, exist_ok=True)
    run_all(runs, a.work, time_limit=a.time_limit, data_dir=a.data_dir, device=a.device,
            threads=a.threads)  # fmt: skip


if __name__ == "__main__":
    main()
