"""Fig 4(b) of Xiao et al. (2018): the 64 singular values |lambda_m| of the GS0..GS4
variance vectors (3x3 taps) on 8x8 images, in descending order (the theory page [T4], [T18]).

GS0 = delta (all 1), GS4 = uniform; GS1..GS3 interpolate linearly ([T4], our documented
choice: the paper gives no formula). From GS0 to GS4 the values concentrate near 0.
Also the mode depth scales xi_m = -1/log(chi_c* |lambda_m|) [T19] at the tanh point
(1.3, 0.3) (chi_c* = 0.9398), the example of theory [T19].

    python experiments/fig4b.py --out results/fig4b
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/fig4b"))
    p.add_argument("--size", type=int, default=8)
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--sigma-w", type=float, default=1.3)
    p.add_argument("--sigma-b", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0, help="recorded only (deterministic)")
    args = p.parse_args(argv)

    import pandas as pd

    from spectra import meanfield as mf
    from spectra.kernels import variance_vector
    from spectra.meanfield import modes_frame
    from spectra.plots.meanfield import modes_figure
    from spectra.tables import write_csv

    chi = mf.chi_c(args.sigma_w, args.sigma_b)
    vectors = {f"gs{j}": variance_vector(f"gs{j}", args.kernel, 2) for j in range(5)}
    df = modes_frame(vectors, args.size, chi)
    df.insert(0, "seed", args.seed)
    summary = []
    for name, d in df.groupby("name", sort=True):
        s = d["abs_lambda"]
        finite = d["xi"][d["xi"] != float("inf")]
        summary.append(
            {
                "seed": args.seed,
                "name": name,
                "min_abs_lambda": s.min(),
                "mean_abs_lambda": s.mean(),
                "median_abs_lambda": s.median(),
                "max_abs_lambda": s.max(),
                "modes_above_half": int((s > 0.5).sum()),
                "chi_c": chi,
                "xi_m0": d["xi"][d["mode"] == 0].iloc[0],
                "median_xi": float(d["xi"].median()),
                "min_xi": float(finite.min()),
            }
        )
    summary = pd.DataFrame(summary)

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(df, args.out / "modes.csv")
    write_csv(summary, args.out / "summary.csv")
    modes_figure(df).savefig(args.out / "fig4b.png", dpi=130)
    cmd = "python " + " ".join(shlex.quote(x) for x in [sys.argv[0], *(argv or sys.argv[1:])])
    (args.out / "run.json").write_text(
        json.dumps({"command": cmd, "seed": args.seed, "chi_c": chi}, indent=2) + "\n"
    )
    print(summary.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
