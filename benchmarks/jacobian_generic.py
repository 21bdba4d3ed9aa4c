"""Benchmark the generic (any-model) Jacobian routes against torch's own.

Rows (each heavy route in its own child process, so its peak resident set is its own):

- ``forward_memory``: zero-padded CNN 3 -> 8 -> 3 channels (3 x3 convs, tanh) on a
  3 x 64 x 64 input, N_in = N_out = 12288, float32. The generic forward route
  (:func:`spectra.jacobian.model_jacobian` under a memory budget, then ``svdvals``)
  against one-shot ``torch.func.jacfwd`` + ``svdvals``: seconds and peak RSS. The
  one-shot peer runs under an address-space limit (``--peer-limit-gb``); over it, the
  row records the limit as a lower bound.
- ``lanczos_vs_full``: the same kind of CNN on 4 x 32 x 32 (N = 4096), float64: generic
  Lanczos (``torch.func`` jvp/vjp under vmap, batched probes) against the full spectrum
  (forward + SVD) at (steps, probes) = (60, 8), (150, 16), (250, 16): seconds and
  W1(log s^2) between the SLQ measure and the exact values.
- ``lanczos_naive``: the same SLQ core on ``torch.autograd.functional.jvp``/``vjp``, one
  probe at a time: identical steps, probes and seed give the same W1; seconds compared.

    nice -n 19 python benchmarks/jacobian_generic.py --out results/benchmarks/jacobian_generic.csv
    python benchmarks/jacobian_generic.py --smoke --out /tmp/g.csv     # tiny sizes

Columns: ``row, route, n_in, n_out, seconds, peak_rss_mb, budget_mb, w1_log_lambda, note``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn


def cnn(c_in: int, hidden: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(c_in, hidden, 3, padding=1), nn.Tanh(), nn.Conv2d(hidden, c_in, 3, padding=1)
    ).eval()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(kind: str, c: int, n: int, budget_mb: float, svd: bool = True) -> dict:
    """One route in this (child) process: seconds and the peak RSS it reached."""
    from spectra.jacobian import model_jacobian

    torch.set_num_threads(1)
    model = cnn(c, 8)
    x = torch.randn(1, c, n, n, generator=torch.Generator().manual_seed(0))
    base = _peak_mb()
    t0 = time.perf_counter()
    with torch.no_grad():
        if kind == "generic":
            j = model_jacobian(model, x, budget=int(budget_mb * 2**20))
        else:
            j = torch.func.jacfwd(model)(x).reshape(-1, x.numel())
        s = torch.linalg.svdvals(j) if svd else torch.linalg.vector_norm(j, dim=1).max()[None]
    return {
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": _peak_mb(),
        "import_rss_mb": base,
        "s_max": float(s[0]),
    }


def _spawn(kind: str, c: int, n: int, budget_mb: float, limit_gb: float | None, svd: bool) -> dict:
    code = (
        "import json,resource,sys;"
        + (
            f"resource.setrlimit(resource.RLIMIT_AS,({int(limit_gb * 2**30)},"
            f"{int(limit_gb * 2**30)}));"
            if limit_gb
            else ""
        )
        + "sys.path.insert(0,'benchmarks');import jacobian_generic as b;"
        + f"print(json.dumps(b.child({kind!r},{c},{n},{budget_mb},{svd})))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"failed": last[:160]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def forward_rows(c: int, n: int, budget_mb: float, limit_gb: float, svd: bool) -> list[dict]:
    rows = []
    tail = " + svdvals" if svd else " (J only; the budget keeps room for one SVD copy)"
    g = _spawn("generic", c, n, budget_mb, None, svd)
    rows.append(
        dict(row="forward_memory", route="generic forward (budgeted)" + tail,
             n_in=c * n * n, n_out=c * n * n, seconds=g.get("seconds"),
             peak_rss_mb=g.get("peak_rss_mb"), budget_mb=budget_mb,
             note=f"RSS after imports {g.get('import_rss_mb', float('nan')):.0f} MB "
             + g.get("failed", ""))
    )  # fmt: skip
    p = _spawn("jacfwd", c, n, budget_mb, limit_gb, svd)
    note = (
        f"failed under a {limit_gb:g} GB address-space limit: {p['failed']}"
        if "failed" in p
        else f"RSS after imports {p['import_rss_mb']:.0f} MB"
    )
    rows.append(
        dict(row="forward_memory", route="one-shot jacfwd" + tail, n_in=c * n * n,
             n_out=c * n * n, seconds=p.get("seconds"),
             peak_rss_mb=p.get("peak_rss_mb", limit_gb * 1024 if "failed" in p else None),
             budget_mb=None, note=note)
    )  # fmt: skip
    return rows


def _naive_ops(f, x):
    """matvec/rmatvec one probe at a time on torch.autograd.functional (the naive peer)."""
    from torch.autograd.functional import jvp, vjp

    def matvec(v):
        return torch.stack([jvp(f, x, vi.reshape(x.shape))[1].reshape(-1) for vi in v])

    def rmatvec(u):
        y = f(x)
        return torch.stack([vjp(f, x, ui.reshape(y.shape))[1].reshape(-1) for ui in u])

    return matvec, rmatvec


def _warm_up() -> float:
    """torch.func's one-time per-process start (measured ~10 s for the first vmap'd vjp
    here), paid once on a tiny model before any route is timed; returns its seconds."""
    from spectra.jacobian import model_operator

    t0 = time.perf_counter()
    mv, rmv, _, _ = model_operator(cnn(1, 2).double(), torch.zeros(1, 1, 4, 4, dtype=torch.float64))
    rmv(mv(torch.ones(2, 16, dtype=torch.float64)))
    return time.perf_counter() - t0


def lanczos_rows(c: int, n: int, configs: list[tuple[int, int]]) -> list[dict]:
    """One full spectrum, then generic Lanczos at each (steps, probes) of ``configs``;
    the naive peer at the last configuration (same core, same seed: same W1)."""
    from spectra.jacobian import model_jacobian, model_operator, slq_density, w1_log_lambda

    torch.set_num_threads(1)
    _warm_up()
    model = cnn(c, 8).double()
    x = torch.randn(1, c, n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t0 = time.perf_counter()
    logs = np.log(torch.linalg.svdvals(model_jacobian(model, x)).numpy())
    t_full = time.perf_counter() - t0
    nn_ = x.numel()
    common = dict(n_in=nn_, n_out=nn_, peak_rss_mb=None, budget_mb=None)
    rows = [
        dict(row="lanczos_vs_full", route="full spectrum (forward + svdvals)",
             seconds=t_full, w1_log_lambda=0.0,
             note=f"log s spread {logs.max() - logs.min():.1f} nats", **common)
    ]  # fmt: skip
    for steps, probes in configs:
        t0 = time.perf_counter()
        mv, rmv, _, _ = model_operator(model, x)
        dens, _ = slq_density(mv, rmv, nn_, nn_, steps=steps, probes=probes, seed=0)
        t_lz = time.perf_counter() - t0
        rows.append(
            dict(row="lanczos_vs_full", route=f"generic lanczos ({steps} steps x {probes} probes)",
                 seconds=t_lz, w1_log_lambda=w1_log_lambda(dens, logs),
                 note=f"{t_lz / t_full:.3f} of the full spectrum's time", **common)
        )  # fmt: skip
    t0 = time.perf_counter()
    mv, rmv = _naive_ops(model, x)
    dens_n, _ = slq_density(mv, rmv, nn_, nn_, steps=steps, probes=probes, seed=0)
    t_naive = time.perf_counter() - t0
    rows.append(
        dict(row="lanczos_naive", route=f"naive lanczos ({steps} steps x {probes} probes, "
             "autograd.functional jvp/vjp)", seconds=t_naive,
             w1_log_lambda=w1_log_lambda(dens_n, logs),
             note=f"generic lanczos {t_naive / t_lz:.1f}x faster at the same W1", **common)
    )  # fmt: skip
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/benchmarks/jacobian_generic.csv"))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--budget-mb", type=float, default=1536.0)
    ap.add_argument("--peer-limit-gb", type=float, default=6.0)
    ap.add_argument("--rows", default="forward,lanczos", help="forward,lanczos or one")
    ap.add_argument("--no-svd", action="store_true", help="forward rows: form J only")
    args = ap.parse_args(argv)
    which = args.rows.split(",")
    rows = []
    if "forward" in which:
        size = (1, 8, 64.0, 4.0) if args.smoke else (3, 64, args.budget_mb, args.peer_limit_gb)
        rows += forward_rows(*size, svd=not args.no_svd)
    if "lanczos" in which:
        configs = [(10, 2)] if args.smoke else [(60, 8), (150, 16), (250, 16)]
        rows += lanczos_rows(2, 8, configs) if args.smoke else lanczos_rows(4, 32, configs)
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False, float_format="%.6g")
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
