"""Phase diagram of deep tanh networks in (sigma_w^2, sigma_b^2) (paper Appendix D, Fig S2).

Ordered (chi_1 < 1) and chaotic (chi_1 > 1) phases, the critical line chi_1 = 1 coloured by
q*, and xi_c contours (the theory page [T10]-[T16]); the same diagram holds for CNNs ([T17]).
The grid is computed at full resolution; phase.csv keeps every ``--csv-stride``-th point
per axis to keep the committed folder small.

    python experiments/phase_diagram.py --out results/phase_diagram
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/phase_diagram"))
    p.add_argument("--points", type=int, default=300)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--sigma-w2-max", type=float, default=4.0)
    p.add_argument("--sigma-b2-max", type=float, default=0.5)
    p.add_argument("--csv-stride", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="recorded only (deterministic)")
    args = p.parse_args(argv)

    import numpy as np

    from spectra import meanfield as mf
    from spectra.meanfield import critical_line, phase_grid
    from spectra.plots.meanfield import phase_figure
    from spectra.tables import write_csv

    a = np.linspace(0.5, args.sigma_w2_max, args.points)
    b = np.linspace(0.0, args.sigma_b2_max, args.points)
    w0, c0 = time.perf_counter(), time.process_time()
    grid = phase_grid(a, b, args.activation)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    line = critical_line(np.logspace(-4, np.log10(20.0), 400), args.activation)

    # Table-1 style rows on the critical line, from the scalar solvers, for the README.
    rows = []
    for sb in (0.0, 0.05, 0.1, 0.3, 0.5, 1.0):
        sw = mf.critical_sigma_w(sb, args.activation)
        r = mf.mean_field(sw, sb, args.activation)
        rows.append({k: r[k] for k in ("activation", "sigma_w", "sigma_b", "q_star", "chi_q")})
    import pandas as pd

    table = pd.DataFrame(rows)
    table.insert(0, "seed", args.seed)

    args.out.mkdir(parents=True, exist_ok=True)
    s = args.csv_stride
    keep = grid[grid["sigma_w2"].isin(a[::s]) & grid["sigma_b2"].isin(b[::s])].copy()
    keep.insert(0, "seed", args.seed)
    write_csv(keep, args.out / "phase.csv")
    write_csv(line, args.out / "critical_line.csv")
    write_csv(table, args.out / "critical_table.csv")
    phase_figure(grid, line).savefig(args.out / "phase_diagram.png", dpi=130)
    cmd = "python " + " ".join(shlex.quote(x) for x in [sys.argv[0], *(argv or sys.argv[1:])])
    meta = {
        "command": cmd,
        "seed": args.seed,
        "points": args.points,
        "grid_wall_seconds": wall,
        "grid_cpu_seconds": cpu,
        "counts": grid["phase"].value_counts().to_dict(),
        "max_mehler_tail": float(grid["mehler_tail"].max()),
    }
    (args.out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(table.to_string(index=False))
    print(f"{args.points}x{args.points} grid: {wall:.2f} s wall, {cpu:.2f} s CPU; {meta['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
