"""Why the ultra-deep critical regime (q* = 1/depth) learned so slowly, measured at
initialisation: signal scales through the net and per-group gradient norms, for the
paper's plain setup and for the library's defaults (matched block input, 1/sqrt(q*)
readout), and the per-group first-order SGD rates ``lr * lr_factor * |g|^2``.

Writes diagnosis.csv and command.txt to --out (results/regime_diagnosis).

    python experiments/regime_diagnosis.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from _training import save, write_command

from spectra.data import load_dataset
from spectra.training import TrainConfig, build_model, diagnose, lr_factors


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depths", default="10,30,100,200,1000")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=5e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=Path("results/regime_diagnosis"))
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    write_command(a.out)
    data = load_dataset("fashion-mnist", a.data_dir)
    x, y = data.x_train[: a.batch], data.y_train[: a.batch]
    rows = []
    setups = {
        "plain": dict(match_input=False, readout_scale=False, lr_scaling="none"),
        "library": dict(match_input=True, readout_scale=True, lr_scaling="depth"),
        "library-qstar": dict(match_input=True, readout_scale=True, lr_scaling="qstar"),
    }
    for d in (int(v) for v in a.depths.split(",")):
        for name, kw in setups.items():
            cfg = TrainConfig(depth=d, channels=a.channels, lr=a.lr, seed=a.seed, **kw)
            model = build_model(cfg, data)
            r = diagnose(model, x, y)
            fac = lr_factors(cfg, model.q_star)
            fac.setdefault("stem_bias", fac["stem"])
            rates = {f"rate_{k}": a.lr * fac[k] * r[f"g2_{k}"] for k in fac}
            rows.append(
                {
                    "setup": name,
                    "depth": d,
                    "channels": a.channels,
                    "seed": a.seed,
                    "input_scale": float(model.input_scale),
                    "readout_scale": float(model.readout_scale),
                    **r,
                    **rates,
                }
            )
            print(rows[-1], flush=True)
    save(pd.DataFrame(rows), a.out / "diagnosis.csv")


if __name__ == "__main__":
    main()
