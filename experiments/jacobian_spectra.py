"""Jacobian singular-value spectra of deep critical tanh CNNs: Gaussian vs orthogonal vs
delta-orthogonal kernels at several depths, against the free-probability law.

The paper's point (Xiao et al. 2018, Sec. 3-4): at the critical point with small q*,
orthogonal kernels keep every singular value of J near 1 (dynamical isometry) while
Gaussian kernels spread the spectrum over many decades as depth grows (theory [T29],
[T34]). Writes ``results/jacobian_spectra/``: ``singular_values.csv`` (every singular
value, DESIGN columns), ``summary.csv`` (one row per (init, depth), DESIGN columns with
the theory moments and KS distance), ``jacobian_spectra.png`` and ``run.json``.

    python experiments/jacobian_spectra.py            # c = 16, n = 8, depths 16,128,1024
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from spectra.jacobian import ConvStack, spectrum, tune_allocator
from spectra.meanfield import operating_point
from spectra.network import BlockSpec, fixed_point_input
from spectra.outputs import atomic_output
from spectra.studies import summary_row, sv_frame, theory_frame
from spectra.tables import run_metadata, write_csv, write_run_json

INPUT_SEED_OFFSET = 0x9E3779B9  # as the CLI: x0 from seed + offset, layers from seed


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inits", default="gaussian,orth,delta-orth")
    ap.add_argument("--depths", default="16,128,1024")
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="auto")
    ap.add_argument("--out", type=Path, default=Path("results/jacobian_spectra"))
    args = ap.parse_args(argv)
    import matplotlib.pyplot as plt

    from spectra.plots.jacobian import spectra_grid_figure

    tune_allocator()
    inits = args.inits.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    c, n, seed = args.channels, args.size, args.seed
    svs, rows, frames = [], [], {}
    t0 = time.perf_counter()
    for depth in depths:
        sw, sb, q = operating_point(depth)  # critical, q* = 1/depth
        g_in = torch.Generator().manual_seed(seed + INPUT_SEED_OFFSET)
        x0 = fixed_point_input(c, n, q_star=q, generator=g_in)
        for init in inits:
            spec = BlockSpec(depth, c, n, 3, 2, init, sw, sb)
            stack = ConvStack.from_spec(spec, x0, "tanh", seed=seed)
            res = spectrum(stack, args.method, dtype=torch.float32)
            config = dict(
                init=init,
                activation="tanh",
                depth=depth,
                channels=c,
                size=n,
                kernel=3,
                dim=2,
                sigma_w=sw,
                sigma_b=sb,
                q_star=q,
                dtype="float32",
            )
            frame = theory_frame(config)
            frames[(init, depth)] = frame
            svs.append(sv_frame(res.log_singular_values, config, method=res.method, seed=seed))
            row = summary_row(res, config, seed=seed, theory=True, frame=frame)
            rows.append(row)
            print(
                f"{init:10s} L={depth:5d} {res.method:8s} s in [{row['s_min']:.3g}, "
                f"{row['s_max']:.3g}] mean s^2 {row['mean_sq']:.4g} (theory "
                f"{row['theory_mean_sq']:.4g}) var {row['var_sq']:.4g} (theory "
                f"{row['theory_var_sq']:.4g}) KS {row['ks']:.3f} {res.seconds:.1f}s",
                file=sys.stderr,
            )
    sv = pd.concat(svs, ignore_index=True)
    summary = pd.DataFrame(rows)
    with atomic_output(args.out) as tmp:
        write_csv(sv, tmp / "singular_values.csv")
        write_csv(summary.drop(columns=["seconds"]), tmp / "summary.csv")
        fig = spectra_grid_figure(sv, frames, summary)
        fig.savefig(tmp / "jacobian_spectra.png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        meta = run_metadata(
            command=["python", "experiments/jacobian_spectra.py", *(argv or sys.argv[1:])],
            seed=seed,
            device="cpu",
            seconds=time.perf_counter() - t0,
        )
        meta["seconds_per_run"] = {f"{r['init']}@{r['depth']}": r["seconds"] for r in rows}
        write_run_json(tmp, meta)
    print(json.dumps({"out": str(args.out), "rows": len(sv)}))


if __name__ == "__main__":
    main()
