"""The rank correlation between the conditioning of the block's
input-output Jacobian at initialisation and how fast the net then trains, over
inits x depths x seeds, on scikit-learn's 8x8 digits (so that it runs on 2 CPU cores).

A thin wrapper over ``spectra correlate`` that records its command line:

    python experiments/correlate.py                       # -> results/correlate/
    python experiments/correlate.py --q-star 0 --depths 4,16,48,96 --seeds 0 \
        --steps 200 --lr 0.05 --out results/correlate_qstar_1_over_L

Design. The default operating point is a fixed q* = 0.05 on the critical line for every
depth and init, with the same optimiser, learning rate and seeds for all. At q* = 1/L
(``--q-star 0`` here) orthogonal nets are near-isometric at every depth, so their
training speeds differ by seed noise only and two thirds of the points carry nothing
to rank; at a fixed q* every init spans a range of conditioning (log10 s_max/s_min:
orth 0.3 -> 4.5, Gaussian 5.5 -> 76 from depth 4 to 96), which is the relation the
paper's argument is about.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _training import run_command

from spectra.cli.train import correlate_cmd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--inits", default="gaussian,orth,delta-orth")
    p.add_argument("--depths", default="4,12,24,48,96")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--target", type=float, default=0.7)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-2)
    p.add_argument("--q-star", type=float, default=0.05, help="fixed q* (0: the default 1/depth)")
    p.add_argument("--statistic", default="log10_condition")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("results/correlate"))
    a = p.parse_args()
    if a.q_star == 0:
        a.q_star = None
    run_command(correlate_cmd, a)


if __name__ == "__main__":
    main()
