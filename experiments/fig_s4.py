"""Fig S4 (Appendix E): singular values of random 1D circular-conv matrices vs dense
Gaussian matrices as the channel count c grows, with the quarter-circle law [T33].

Runs ``spectra weights`` with the paper's setup (1D, n = 26, k = 5, c = 2..64) over several
seeds into ``results/fig_s4/`` and adds ``ks_summary.csv`` (mean and sd over seeds of the
KS distance to the quarter circle, per kind and c) and ``command.txt``.

    python experiments/fig_s4.py            # defaults: --seeds 5 --seed 0
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pandas as pd

from spectra.cli import app
from spectra.tables import write_csv


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="number of seeds")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--channels", default="2,4,8,16,32,64")
    p.add_argument("--out", type=Path, default=Path("results/fig_s4"))
    args = p.parse_args(argv)
    cli = ["weights", "--dim", "1", "--size", "26", "--kernel", "5"]
    cli += ["--channels", args.channels, "--seed", str(args.seed), "--seeds", str(args.seeds)]
    cli += ["--out", str(args.out), "--quiet"]
    app(args=cli, standalone_mode=False)

    ks = pd.read_csv(args.out / "ks.csv")
    summary = (
        ks.groupby(["kind", "channels"])["ks"]
        .agg(ks_mean="mean", ks_sd="std", seeds="count")
        .reset_index()
    )
    write_csv(summary, args.out / "ks_summary.csv")
    command = "python " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    (args.out / "command.txt").write_text(
        f"{command}\n# equivalent CLI call:\nspectra {shlex.join(cli)}\n"
    )
    table = summary.pivot(index="channels", columns="kind", values="ks_mean")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
