"""Training step of the block of circular tanh convolutions: native route vs PyTorch route.

One invocation measures both routes on the same block (same weights, same batch), one
thread. Timing rows (depth 200): all routes in one process with their steps interleaved,
so that load from other processes slows them alike. Memory rows (depth 10,000): one step
per route, each in a fresh process (so that its peak RSS is its own). Columns:

* ``ms_per_layer``: the best of ``--reps`` timed steps (forward, loss, backward of the
  block alone) divided by the depth (memory rows: their one step);
* ``gflops``: 3 x 2 x 9 c^2 x B n^2 multiply-adds per layer (forward, input gradient,
  weight gradient) over that time, and ``gemm_gflops`` the same process's float32 GEMM
  rate (1024^3) — the roofline; ``frac_gemm`` their ratio;
* ``speedup``: the torch row's time over this row's (same c, depth and batch);
* ``peak_rss_mb``: the process's peak resident memory (ru_maxrss);
* ``grad_rel_err``: max |gW - gW_torch| / max |gW_torch| (float32; the torch row: 0).

    python benchmarks/training.py            # -> results/benchmarks/training.csv
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

TIMING = [(16, 200), (32, 200)]  # (channels, depth): all routes in one process, interleaved
ROUTES = [("torch", 0), ("native", 0), ("native", 20)]
MEMORY = [  # (channels, depth, route, segment): one step each in its own process
    (16, 10_000, "torch", 0),
    (16, 10_000, "native", 0),
    (16, 10_000, "native", 100),
    (32, 10_000, "native", 100),
]


def _gemm_gflops() -> float:
    a = torch.randn(1024, 1024)
    a @ a
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * 1024**3 / best / 1e9


def _setup(c: int, depth: int, batch: int, n: int):
    from spectra.network import CircularConvBlock
    from spectra.training import configure_numerics

    torch.set_num_threads(1)
    configure_numerics()
    g = torch.Generator().manual_seed(0)
    w = torch.randn(depth, c, c, 3, 3, generator=g) / (3 * c**0.5)
    block = CircularConvBlock(w, torch.randn(depth, c, generator=g) * 0.01)
    return block, torch.randn(batch, c, n, n, generator=g) * 0.3


def _step(block, x, route: str, segment: int) -> float:
    from spectra.training import circular_block

    t = time.perf_counter()
    block.zero_grad(set_to_none=True)
    circular_block(block, x, route=route, segment=segment).pow(2).sum().backward()
    return time.perf_counter() - t


def _row(c, depth, batch, n, route, segment, best, gemm, err):
    per_layer = best / depth
    flops = 3 * 2 * 9 * c * c * batch * n * n
    return {
        "channels": c,
        "depth": depth,
        "batch": batch,
        "size": n,
        "route": route,
        "segment": segment,
        "ms_per_layer": per_layer * 1e3,
        "gflops": flops / per_layer / 1e9,
        "gemm_gflops": gemm,
        "frac_gemm": flops / per_layer / 1e9 / gemm,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "grad_rel_err": err,
    }


def timing_rows(c: int, depth: int, batch: int, n: int, reps: int) -> list[dict]:
    """All routes on one block in this process, their timed steps interleaved (so that a
    busy machine slows each alike); the best step of each; gradients vs the torch route."""
    block, x = _setup(c, depth, batch, n)
    grads, best = {}, {}
    for route, seg in ROUTES:
        _step(block, x, route, seg)
        grads[route, seg] = block.weight.grad.clone()
        best[route, seg] = float("inf")
    gemm = _gemm_gflops()
    for _ in range(reps):
        for key in ROUTES:
            best[key] = min(best[key], _step(block, x, *key))
        gemm = max(gemm, _gemm_gflops())
    ref = grads["torch", 0]
    rows = []
    for key in ROUTES:
        err = float((grads[key] - ref).abs().max() / ref.abs().max())
        rows.append(_row(c, depth, batch, n, *key, best[key], gemm, err))
    return rows


def memory_row(c: int, depth: int, route: str, segment: int, batch: int, n: int) -> dict:
    """One step of a deep block in this process: its time and the process's peak RSS."""
    block, x = _setup(c, depth, batch, n)
    t = _step(block, x, route, segment)
    return _row(c, depth, batch, n, route, segment, t, _gemm_gflops(), float("nan"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/benchmarks/training.csv")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--size", type=int, default=7)
    ap.add_argument("--max-depth", type=int, default=10_000, help="skip deeper rows")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: one row as JSON
    a = ap.parse_args(argv)
    if a.row:
        kind, *spec = json.loads(a.row)
        rows = (
            timing_rows(*spec, a.batch, a.size, a.reps)
            if kind == "timing"
            else [memory_row(*spec, a.batch, a.size)]
        )
        print(json.dumps(rows))
        return
    rows = []
    jobs = [["timing", *s] for s in TIMING] + [
        ["memory", *s] for s in MEMORY if s[1] <= a.max_depth
    ]
    for job in jobs:
        cmd = [sys.executable, __file__, "--row", json.dumps(job), "--reps", str(a.reps)]
        cmd += ["--batch", str(a.batch), "--size", str(a.size)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    ref = df[df["route"] == "torch"].set_index(["channels", "depth"])["ms_per_layer"]
    df["speedup"] = [
        ref.get((c, d), float("nan")) / t
        for c, d, t in zip(df["channels"], df["depth"], df["ms_per_layer"], strict=True)
    ]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.out, index=False, float_format="%.4g")
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
