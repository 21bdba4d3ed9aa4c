"""Benchmark one orthogonal kernel draw (Algorithm 1, [T8]) under machine load.

In ONE process: ``spectra.kernels.conv_kernel("orth", c, c, 3)`` with torch's default
thread count, against the same draw with one torch thread, while ``--load`` busy-loop
child processes keep the CPUs loaded (and with none). spectra runs the draw's small
linear algebra on one thread itself (``small_linalg_threads``); the ``raw`` rows bypass
that (``torch.linalg`` QR and GEMMs under the default pool, the pre-change behaviour) to
show what it avoids. A TensorFlow row (``tf.keras.initializers.Orthogonal``-style
``ConvolutionOrthogonal2D``, TF's own init_ops) runs when TensorFlow is importable, else
it is skipped. A same-process c x c float64 GEMM gives the machine's scale.

    python benchmarks/kernel_draw.py                  # -> results/benchmarks/kernel_draw.csv
    python benchmarks/kernel_draw.py --smoke          # c = 32, seconds

Columns: ``row, channels, kernel, load_procs, loadavg, torch_threads, seconds,
one_thread_seconds, ratio, gemm_seconds, note``; ``seconds`` is the median of
``--repeat`` draws, ``ratio`` = seconds / one_thread_seconds (same load).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from spectra.kernels import conv_kernel


def _median_time(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def _raw_draw(c: int, k: int, g: torch.Generator) -> torch.Tensor:
    """The draw's linear algebra under the caller's thread count (no one-thread guard):
    the batched QR and the 2 (k - 1) projection GEMMs of Algorithm 1."""
    nproj = 2 * (k - 1)
    gauss = torch.randn(1 + nproj, c, c, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(gauss)
    kern = q[0]
    for j in range(nproj):
        kern = q[1 + j] @ (q[1 + j].T @ kern)
    return kern


def _tf_draw(c: int, k: int):
    import tensorflow as tf

    init = (
        tf.compat.v1.keras.initializers.ConvolutionOrthogonal2D
        if hasattr(tf.compat.v1.keras.initializers, "ConvolutionOrthogonal2D")
        else None
    )
    if init is None:
        from tensorflow.python.ops import init_ops

        init = init_ops.ConvolutionOrthogonal2D
    fn = init(gain=1.0, dtype=tf.float64)
    return lambda: fn((k, k, c, c))


def _spin_children(n: int) -> list[subprocess.Popen]:
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--load", type=int, nargs="+", default=[0, 4])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default="results/benchmarks/kernel_draw.csv")
    a = ap.parse_args(argv)
    import pandas as pd

    from spectra.tables import write_csv

    c = 32 if a.smoke else a.channels
    k, default_threads = a.kernel, torch.get_num_threads()
    g = torch.Generator().manual_seed(0)
    m = torch.randn(c, c, dtype=torch.float64)
    try:
        tf_fn = _tf_draw(c, k)
    except ImportError:
        tf_fn = None
    rows = []
    for load in a.load:
        kids = _spin_children(load)
        try:
            time.sleep(1.0 if load else 0.0)
            timed = {
                "spectra": lambda: conv_kernel("orth", c, c, k, generator=g),
                "raw": lambda: _raw_draw(c, k, g),
            }
            if tf_fn is not None:
                timed["tensorflow"] = tf_fn
            for name, fn in timed.items():
                fn()  # warm-up
                torch.set_num_threads(default_threads)
                secs = _median_time(fn, a.repeat)
                torch.set_num_threads(1)
                one = _median_time(fn, a.repeat)
                gemm = _median_time(lambda: m @ m, a.repeat)
                torch.set_num_threads(default_threads)
                row = {
                    "row": name,
                    "channels": c,
                    "kernel": k,
                    "load_procs": load,
                    "loadavg": os.getloadavg()[0],
                    "torch_threads": default_threads,
                    "seconds": secs,
                    "one_thread_seconds": one,
                    "ratio": secs / one,
                    "gemm_seconds": gemm,
                    "note": "" if name != "tensorflow" else "TF threads are its own",
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            for p in kids:
                p.kill()
                p.wait()
    if tf_fn is None:
        rows.append(
            {"row": "tensorflow", "channels": c, "kernel": k, "note": "not importable: skipped"}
        )
    out = Path(a.out)
    cols = ["row", "channels", "kernel", "load_procs", "loadavg", "torch_threads", "seconds"]
    cols += ["one_thread_seconds", "ratio", "gemm_seconds", "note"]
    write_csv(pd.DataFrame(rows, columns=cols), out)
    meta = {"command": ["python", *sys.argv], "torch_threads": torch_threads()}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
