"""Benchmark the covariance map [T17] against neural-tangents on the same erf CNNs.

One invocation times both: ``spectra.meanfield.covariance_map`` iterated over the layers,
and neural-tangents' ``stax`` NNGP kernel of the same circular CNN (Conv, then ``depth``
x (Erf, Conv), all with W_std = sigma_w, b_std = sigma_b, uniform taps). The input is
x (B, *n, c); both start from its covariance x x^T / c (neural-tangents' convention), the
first Conv is spectra's map with the linear activation. Rows: the 1D map at n = 10 and the
2D map at 8 x 8, 40 erf layers each (and a batch of 3 images of unequal norm in 2D).

neural-tangents needs jax; it is only a benchmark peer (not a dependency). It runs in
this process when importable, else in a child process of ``--nt-python`` (a venv that
has it), else its rows are skipped. ``peer_seconds`` is the best warm call of
neural-tangents' kernel function as its docs use it (eager, after a warm-up call that
starts jax); also recorded:
``peer_compile_seconds``, the first call of the ``jax.jit``-compiled function (trace and
XLA compile), and ``peer_jit_seconds``, its best warm call afterwards (a kernel function
already compiled for this exact shape and depth).

    python benchmarks/covariance_map.py --nt-python /path/to/nt-venv/bin/python
    python benchmarks/covariance_map.py --smoke          # tiny, seconds

Columns: ``row, dim, batch, size, depth, seconds, peer_seconds, speedup,
peer_jit_seconds, peer_compile_seconds, max_abs_diff, gemm_seconds, note``;
``gemm_seconds`` is one same-process float64 GEMM of the (B n^d) x (B n^d)
covariance (a scale for the map's cost). Written to results/benchmarks/covariance_map.csv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SW, SB, K = 1.5, 0.5, 3


def _inputs(dim: int, batch: int, size: int, channels: int = 4, seed: int = 0) -> np.ndarray:
    """x (B, *n, c), image i scaled by 0.5 + i/2 (unequal norms)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + (size,) * dim + (channels,))
    return x * (0.5 + 0.5 * np.arange(batch)).reshape((batch,) + (1,) * (dim + 1))


def _best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def nt_kernel(x: np.ndarray, depth: int, repeat: int) -> tuple[np.ndarray, float, float]:
    """neural-tangents' NNGP of Conv + depth x (Erf, Conv): (kernel in spectra's layout
    (B, *n, B, *n), best warm seconds, compile seconds)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from neural_tangents import stax

    dim = x.ndim - 2
    conv = stax.Conv(1, (K,) * dim, padding="CIRCULAR", W_std=SW, b_std=SB)
    layers = [conv] + [stax.Erf(), conv] * depth
    plain = stax.serial(*layers)[2]
    kernel_fn = jax.jit(plain, static_argnames="get")
    full = plain(x, None)  # warm-up (jax start-up); its is_reversed flag gives the order
    eager_s = _best(lambda: plain(x, None).nngp.block_until_ready(), repeat)
    t = time.perf_counter()
    kernel_fn(x, None, get="nngp").block_until_ready()
    compile_s = time.perf_counter() - t
    best = _best(lambda: kernel_fn(x, None, get="nngp").block_until_ready(), repeat)
    out = np.asarray(full.nngp)
    # neural-tangents' layout (B, B, n1, n1', n2, n2', ...), spatial pairs in reverse
    # order when is_reversed (it flips them per conv layer) -> (B, n1, n2, .., B, n1', ..)
    pos = [2 + 2 * (dim - 1 - t) if full.is_reversed else 2 + 2 * t for t in range(dim)]
    order = [0] + pos + [1] + [p + 1 for p in pos]
    return np.transpose(out, order), {"eager": eager_s, "compile": compile_s, "jit": best}


def spectra_kernel(x: np.ndarray, depth: int) -> np.ndarray:
    from spectra.meanfield import covariance_map

    dim, c = x.ndim - 2, x.shape[-1]
    flat = x.reshape(x.shape[0] * int(np.prod(x.shape[1:-1])), c)
    k0 = (flat @ flat.T / c).reshape(x.shape[:-1] * 2)
    v = np.full((K,) * dim, 1.0 / K**dim)
    s = covariance_map(k0, v, SW, SB, "linear")  # the first Conv
    for _ in range(depth):
        s = covariance_map(s, v, SW, SB, "erf")
    return s


def _peer(x, depth, repeat, nt_python):
    """Run neural-tangents here if importable, else in a child of ``nt_python``."""
    try:
        import neural_tangents  # noqa: F401

        return nt_kernel(x, depth, repeat)
    except ImportError:
        if not nt_python:
            return None
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        cmd = [nt_python, __file__, "--peer-worker", tmp, "--depth", str(depth)]
        cmd += ["--repeat", str(repeat)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        meta = json.loads((Path(tmp) / "meta.json").read_text())
        return np.load(Path(tmp) / "k.npy"), meta


def _worker(tmp: str, depth: int, repeat: int) -> None:
    x = np.load(Path(tmp) / "x.npy")
    k, times = nt_kernel(x, depth, repeat)
    np.save(Path(tmp) / "k.npy", k)
    (Path(tmp) / "meta.json").write_text(json.dumps(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nt-python", default=None, help="python of a venv with neural-tangents")
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", default="results/benchmarks/covariance_map.csv")
    ap.add_argument("--peer-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.peer_worker:
        _worker(a.peer_worker, a.depth, a.repeat)
        return 0
    import pandas as pd

    from spectra.tables import write_csv

    depth = 2 if a.smoke else a.depth
    cases = [("map_1d", 1, 1, 10), ("map_2d", 2, 1, 8), ("map_2d_batch", 2, 3, 8)]
    if a.smoke:
        cases = [("map_1d", 1, 1, 5), ("map_2d", 2, 2, 3)]
    rows = []
    for name, dim, batch, size in cases:
        x = _inputs(dim, batch, size)
        ours = spectra_kernel(x, depth)
        secs = _best(lambda x=x: spectra_kernel(x, depth), a.repeat)
        m = batch * size**dim
        g = np.random.default_rng(0).standard_normal((m, m))
        gemm = _best(lambda g=g: g @ g, a.repeat)
        peer = _peer(x, depth, a.repeat, a.nt_python)
        row = {"row": name, "dim": dim, "batch": batch, "size": size, "depth": depth}
        row.update({"seconds": secs, "gemm_seconds": gemm})
        if peer is None:
            row.update(peer_seconds=np.nan, speedup=np.nan, max_abs_diff=np.nan)
            row["note"] = "neural-tangents not importable and no --nt-python: peer skipped"
        else:
            k, t = peer
            row.update(peer_seconds=t["eager"], speedup=t["eager"] / secs)
            row.update(peer_jit_seconds=t["jit"], peer_compile_seconds=t["compile"])
            row["max_abs_diff"] = float(np.abs(k - ours).max())
            row["note"] = f"max |K| {np.abs(ours).max():.3g}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ["row", "dim", "batch", "size", "depth", "seconds", "peer_seconds", "speedup"]
    cols += ["peer_jit_seconds", "peer_compile_seconds", "max_abs_diff", "gemm_seconds", "note"]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(pd.DataFrame(rows, columns=cols), out)
    meta = {"command": ["python", *sys.argv], "torch_threads": torch_threads()}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
