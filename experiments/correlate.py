"""Acceptance 4 of issue 5: the rank correlation between the conditioning of the block's
input-output Jacobian at initialisation and how fast the net then trains, over
inits x depths x seeds, on scikit-learn's 8x8 digits (so that it runs on 2 CPU cores).

A thin wrapper over ``spectra correlate`` that records its command line:

    python experiments/correlate.py --depths 4,16,48,96 --seeds 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _training import run_cli


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--inits", default="gaussian,orth,delta-orth")
    p.add_argument("--depths", default="4,16,48,96")
    p.add_argument("--seeds", default="0")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--target", type=float, default=0.7)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-2)
    p.add_argument("--statistic", default="log10_condition")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("results/correlate"))
    a = p.parse_args()
    run_cli("correlate", a)


if __name__ == "__main__":
    main()
