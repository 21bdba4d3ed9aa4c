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
