"""Training step of the block of circular tanh convolutions: native route vs PyTorch route.

One invocation measures both routes on the same block (same weights, same batch): each row
runs in a fresh subprocess (so that its peak RSS is its own), one thread, and reports

* ``ms_per_layer``: the best of ``--reps`` timed steps (forward, loss, backward of the
  block alone) divided by the depth;
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

ROWS = [  # (channels, depth, route, segment, reps)
    (16, 200, "torch", 0, 3),
    (16, 200, "native", 0, 3),
    (16, 200, "native", 20, 3),
    (32, 200, "torch", 0, 3),
    (32, 200, "native", 0, 3),
    (32, 200, "native", 20, 3),
    (16, 10_000, "torch", 0, 1),
    (16, 10_000, "native", 0, 1),
    (16, 10_000, "native", 100, 1),
    (32, 10_000, "native", 100, 1),
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


def run_row(c: int, depth: int, route: str, segment: int, reps: int, batch: int, n: int):
    """One row, in this process; a dict of the columns above (speedup filled later)."""
    from spectra.network import CircularConvBlock
    from spectra.training import circular_block, configure_numerics

    torch.set_num_threads(1)
    configure_numerics()
    g = torch.Generator().manual_seed(0)
    w = torch.randn(depth, c, c, 3, 3, generator=g) / (3 * c**0.5)
    block = CircularConvBlock(w, torch.randn(depth, c, generator=g) * 0.01)
    x = torch.randn(batch, c, n, n, generator=g) * 0.3

    def step():
        block.zero_grad(set_to_none=True)
        y = circular_block(block, x, route=route, segment=segment)
        y.pow(2).sum().backward()

    step()
    grad = block.weight.grad.clone()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    err = float("nan")
    if depth <= 1000:  # the reference gradient by the torch route, same process
        step_ref = circular_block
        block.zero_grad(set_to_none=True)
        step_ref(block, x, route="torch").pow(2).sum().backward()
        ref = block.weight.grad
        err = float((grad - ref).abs().max() / ref.abs().max())
    per_layer = best / depth
    flops = 3 * 2 * 9 * c * c * batch * n * n
    gemm = _gemm_gflops()
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/benchmarks/training.csv")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--size", type=int, default=7)
    ap.add_argument("--max-depth", type=int, default=10_000, help="skip deeper rows")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: one row as JSON
    a = ap.parse_args(argv)
    if a.row:
        print(json.dumps(run_row(*json.loads(a.row), a.batch, a.size)))
        return
    rows = []
    for spec in ROWS:
        if spec[1] > a.max_depth:
            continue
        cmd = [sys.executable, __file__, "--row", json.dumps(spec)]
        cmd += ["--batch", str(a.batch), "--size", str(a.size)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
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
