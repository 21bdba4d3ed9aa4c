"""Shared plumbing of the training experiments: run a list of TrainConfigs (resumable,
checkpoints in a work folder outside results/), gather histories, write command.txt."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from spectra.data import load_dataset
from spectra.tables import write_csv
from spectra.train import TrainConfig, read_history, train


def run_all(
    configs: dict[str, TrainConfig],
    work: Path,
    *,
    data_dir: str | None,
    device: str,
    threads: int,
    log=print,
) -> pd.DataFrame:
    """Train each config in ``work/<tag>`` (resuming if interrupted); return all histories
    concatenated, with a ``run`` column holding the tag."""
    if threads:
        torch.set_num_threads(threads)
    datasets: dict = {}
    frames = []
    for tag, cfg in configs.items():
        if cfg.dataset not in datasets:
            datasets[cfg.dataset] = load_dataset(cfg.dataset, data_dir)
        t0 = time.time()
        log(f"[{time.strftime('%H:%M:%S')}] {tag}: {cfg.steps} steps")
        h = train(cfg, work / tag, data=datasets[cfg.dataset], device=device)
        te = h[h.split == "test"]
        log(f"  done in {time.time() - t0:.0f} s; last test accuracy {te.accuracy.iloc[-1]:.4f}")
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
