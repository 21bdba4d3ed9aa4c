"""The paper's Fig 2 at CPU scale: accuracy after K steps over
a (sigma_w^2, depth) grid, Gaussian kernels at fixed sigma_b, on scikit-learn's 8x8
digits, with the mean-field depth scale c*xi_c overlaid and c fitted.

A thin wrapper over ``spectra trainability`` that records its command line:

    python experiments/trainability.py                    # -> results/trainability/
    python experiments/trainability.py --depths 10,20,40,80,140,200 --steps 150 --lr 0.05 \
        --out results/trainability_k150

Depths from 2 to 200 on a log grid: the ordered side of the band (sigma_w^2 < 1, xi_c of
1-15 layers) closes within the first decade of depth, so a grid starting at depth 10
sees only its last row. The learning rate (0.01 with the depth LR scaling) is the one
at which critical nets of depth 16-32 learned in a 150-step pilot (0.05 was too large
there: they stayed at chance).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _training import run_command

from spectra.cli.train import trainability_cmd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--init", default="gaussian")
    p.add_argument("--sigma-w2", default="0.5,0.8,1.0,1.26,1.6,2.0,2.5,3.2")
    p.add_argument("--sigma-b", type=float, default=0.05)
    p.add_argument("--depths", default="2,4,8,16,32,64,128,200")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("results/trainability"))
    a = p.parse_args()
    run_command(trainability_cmd, a)


if __name__ == "__main__":
    main()
