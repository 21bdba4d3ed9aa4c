"""Shared plumbing of the training experiments: run a list of TrainConfigs (resumable,
checkpoints in a work folder outside results/), gather histories, write command.txt."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from spectra.data import load_dataset
from spectra.tables import write_csv
from spectra.training import TrainConfig, accuracy_after, read_history, steps_to_accuracy, train


class TimeUp(Exception):
    """Raised from the progress callback when the --time-limit is reached."""


def run_all(
    configs: dict[str, TrainConfig],
    work: Path,
    *,
    data_dir: str | None,
    device: str,
    threads: int,
    time_limit: float | None = None,
    log=print,
) -> pd.DataFrame:
    """Train each config in ``work/<tag>`` (resuming if interrupted); return all histories
    concatenated, with a ``run`` column holding the tag. With ``time_limit`` (seconds of
    wall time), training stops when it is reached and the rows written so far are kept
    (rerun the same command to continue from the last checkpoint)."""
    if threads:
        torch.set_num_threads(threads)
    deadline = None if time_limit is None else time.time() + time_limit

    def progress(n: int) -> None:
        if deadline is not None and time.time() > deadline:
            raise TimeUp

    datasets: dict = {}
    frames = []
    for tag, cfg in configs.items():
        if deadline is not None and time.time() > deadline:
            if (work / tag / "history.csv").exists():  # report what there is
                frames.append(read_history(work / tag).assign(run=tag))
            log(f"{tag}: time limit reached; not (further) trained", flush=True)
            continue
        if cfg.dataset not in datasets:
            datasets[cfg.dataset] = load_dataset(cfg.dataset, data_dir)
        t0 = time.time()
        log(f"[{time.strftime('%H:%M:%S')}] {tag}: {cfg.steps} steps", flush=True)
        try:
            h = train(cfg, work / tag, data=datasets[cfg.dataset], device=device, progress=progress)
        except TimeUp:
            h = read_history(work / tag)
            log(f"  time limit reached at step {int(h.step.max())}", flush=True)
        else:
            te = h[h.split == "test"]
            log(
                f"  done in {time.time() - t0:.0f} s; last test accuracy "
                f"{te.accuracy.iloc[-1]:.4f}",
                flush=True,
            )
        frames.append(h.assign(run=tag))
    return pd.concat(frames, ignore_index=True)


def gather(configs: dict[str, TrainConfig], work: Path) -> pd.DataFrame:
    """The histories written so far (for plotting a sweep still in progress)."""
    frames = [
        read_history(work / t).assign(run=t) for t in configs if (work / t / "history.csv").exists()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_command(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    (out / "command.txt").write_text(cmd + "\n")


def save(df: pd.DataFrame, path: Path) -> None:
    write_csv(df, path)


# ------------------------------------------------------------------ shared command lines
def add_optim_args(p: argparse.ArgumentParser, *, batch_size: int) -> None:
    """--batch-size, --lr, --optimizer, --lr-scaling (the training scripts' optimiser)."""
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=5e-2)
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--lr-scaling", default="depth", help="depth | qstar | none")


def add_run_args(p: argparse.ArgumentParser, *, out: str) -> None:
    """--data-dir, --device, --threads, --time-limit, --out, --work (where and how long)."""
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=None, help="seconds; stop and report")
    p.add_argument("--out", type=Path, default=Path(out))
    p.add_argument("--work", type=Path, default=None, help="checkpoints (default /tmp/…)")


def work_dir(a: argparse.Namespace) -> Path:
    """--work, or /tmp/spectra-work/<name of --out>."""
    return a.work or Path("/tmp/spectra-work") / a.out.name


def train_config(a: argparse.Namespace, **fields) -> TrainConfig:
    """A TrainConfig from the options of :func:`add_optim_args` plus --channels, --steps,
    --eval-every; ``fields`` gives the rest (dataset, init, depth, seed, ...)."""
    return TrainConfig(
        channels=a.channels,
        steps=a.steps,
        lr=a.lr,
        batch_size=a.batch_size,
        optimizer=a.optimizer,
        lr_scaling=a.lr_scaling,
        eval_every=a.eval_every,
        **fields,
    )


def run_args(a: argparse.Namespace) -> dict:
    """The keywords of :func:`run_all` given by :func:`add_run_args` (not the time limit)."""
    return dict(data_dir=a.data_dir, device=a.device, threads=a.threads)


def run_summary(run: str, h: pd.DataFrame, target: float, window: int, *, channels=False) -> dict:
    """One run's summary row: init, depth (channels), seed, steps, steps to ``target``
    running train accuracy, final running train accuracy, last test accuracy."""
    steps = int(h["step"].max())
    row = {"run": run, "init": h["init"].iloc[0], "depth": int(h["depth"].iloc[0])}
    if channels:
        row["channels"] = int(h["channels"].iloc[0])
    te = h[h["split"] == "test"]
    return {
        **row,
        "seed": int(h["seed"].iloc[0]),
        "steps": steps,
        "target": target,
        "steps_to_target": steps_to_accuracy(h, target, window=window),
        "final_train_accuracy": accuracy_after(h, steps, window=window),
        "last_test_accuracy": float(te["accuracy"].iloc[-1]),
    }


def run_command(command, a: argparse.Namespace) -> None:
    """Write command.txt to ``a.out``, then call the ``spectra`` command function
    ``command`` (e.g. ``spectra.cli.train.correlate_cmd``) with every parsed option as a
    keyword argument (options left at None take the command's own default)."""
    write_command(a.out)
    command(**{k: v for k, v in vars(a).items() if v is not None})
