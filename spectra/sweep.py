"""Sweeps: lists of independent, resumable jobs keyed by their config.

A *job* is a plain dict of JSON-able settings; a *job function* maps it to a
``pandas.DataFrame`` (usually one row) and must be a module-level function so it can be
pickled to another process or machine. :func:`run_jobs` runs every job whose result is
not yet stored and stores each result as ``<folder>/<job_key(config)>.csv`` the moment it
arrives, so an interrupted sweep picks up where it stopped and a finished one costs
nothing to rerun.

Where jobs run:

* ``scheduler=None, workers=1``: in this process, one after another;
* ``scheduler=None, workers>1``: a local process pool (the platform's default start
  method: ``fork`` on Linux, so workers inherit the imported modules and start at once);
* ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``): a Dask distributed
  cluster, so a sweep that outgrows one machine runs unchanged on many.

Each job runs with one torch thread, whatever runs it, so its floating-point results do
not depend on the executor: a sweep gives the same table locally and on a cluster.
Results are written only by the calling process (workers need no shared disk).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import SpectraError
from .tables import write_csv

__all__ = ["job_key", "run_job", "run_jobs"]

JobFn = Callable[[dict], pd.DataFrame]


def job_key(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit key of ``config`` (sorted JSON, SHA-1)."""
    text = json.dumps(dict(config), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_job(fn: JobFn, config: dict) -> pd.DataFrame:
    """Run one job with a single torch thread (executor-independent numerics)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        df = fn(dict(config))
    finally:
        torch.set_num_threads(threads)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"job function {fn!r} returned {type(df).__name__}, not a DataFrame")
    return df


def _client(scheduler):
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - optional extra
        raise SpectraError(
            "--scheduler needs dask distributed: pip install 'spectra[cluster]'"
        ) from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout="5s"), True
    except OSError as e:
        raise SpectraError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None


def run_jobs(
    fn: JobFn,
    configs: Sequence[dict],
    folder: str | os.PathLike,
    *,
    scheduler: Any = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run ``fn`` on every config not yet done in ``folder``; return all results.

    The returned table is the concatenation of the per-job frames in the order of
    ``configs`` (so it does not depend on completion order or on the executor).
    Duplicate configs run once. ``progress(1)`` is called as each job finishes
    (cached ones included).
    """
    client, owned = _client(scheduler) if scheduler is not None else (None, False)
    try:
        return _run(fn, configs, Path(folder), client, workers, progress)
    finally:
        if owned:
            client.close()


def _run(fn, configs, folder: Path, client, workers: int, progress) -> pd.DataFrame:
    folder.mkdir(parents=True, exist_ok=True)
    keys = [job_key(c) for c in configs]
    todo: dict[str, dict] = {}
    for k, c in zip(keys, configs, strict=True):
        if not (folder / f"{k}.csv").exists() and k not in todo:
            todo[k] = dict(c)
    if progress is not None and len(set(keys)) - len(todo):
        progress(len(set(keys)) - len(todo))

    def _store(k: str, df: pd.DataFrame) -> None:
        write_csv(df, folder / f"{k}.csv")
        if progress is not None:
            progress(1)

    if todo and client is not None:
        from distributed import as_completed as dask_as_completed

        futs = {
            client.submit(run_job, fn, c, key=f"spectra-{k}", pure=False): k
            for k, c in todo.items()
        }
        for fut in dask_as_completed(list(futs)):
            _store(futs[fut], fut.result())
    elif todo and workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(run_job, fn, c): k for k, c in todo.items()}
            for fut in as_completed(futs):
                _store(futs[fut], fut.result())
    else:
        for k, c in todo.items():
            _store(k, run_job(fn, c))

    frames = [pd.read_csv(folder / f"{k}.csv") for k in dict.fromkeys(keys)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
