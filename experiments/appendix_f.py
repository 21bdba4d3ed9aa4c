"""Appendix F of Xiao et al. (2018): multiple depth scales of signal propagation.

erf CNN on 1D images (n = 10), sigma_w = 3/2, sigma_b = 1/2, kernel 3 with variance
v = [0.025, 0.95, 0.025]. epsilon^0 = Sigma* - Sigma^0 is zero except on the first cyclic
diagonal, whose DFT is -1/6 [1, r, r^3, r^5, r^4, r^2, r^4, r^5, r^3, r], r = 2/3.

Three curves per Fourier mode m of that diagonal (the theory page [T17]-[T19]):
- ``ensemble``: finite random CNNs (torch float64), see
  :func:`spectra.meanfield.ensemble_first_diagonal`;
- ``mean_field``: the exact covariance map [T17] iterated from Sigma^0;
- ``linear``: the prediction (chi_c* lambda_m)^l epsilon^0(m).

fits.csv: the decay rate fitted to the ensemble (weighted least squares of log|eps^l(m)|
over the depths where it is at least 5 standard errors from 0, starting at l = 1) against
chi_c* lambda_m; acceptance: within 5% for every mode.

    python experiments/appendix_f.py --out results/appendix_f [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results/appendix_f"))
    p.add_argument("--depth", type=int, default=30)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--networks", type=int, default=256)
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk", type=int, default=256, help="networks per batched run")
    args = p.parse_args(argv)

    import pandas as pd
    import torch

    from spectra import meanfield as mf
    from spectra.meanfield import (
        appendix_f_perturbation,
        ensemble_first_diagonal,
        first_diagonal_modes,
        fit_decay_rate,
        fixed_point_covariance,
        fourier_eigenvalues,
        iterate_covariance_map,
    )
    from spectra.plots.meanfield import appendix_f_figure
    from spectra.tables import write_csv

    t0 = time.perf_counter()
    sw, sb, act, n = 1.5, 0.5, "erf", 10
    v = np.array([0.025, 0.95, 0.025])
    row = mf.mean_field(sw, sb, act)
    q, c, chi = row["q_star"], row["c_star"], row["chi_c"]
    lam = fourier_eigenvalues(v, n)
    sig_star = fixed_point_covariance(n, q, c)
    eps0 = appendix_f_perturbation(n)
    sig0 = sig_star - eps0
    e0 = first_diagonal_modes(eps0)
    depths = np.arange(args.depth + 1)

    # exact mean-field map and its linearisation
    sig = iterate_covariance_map(sig0, args.depth, v, sw, sb, act)
    mf_modes = first_diagonal_modes(sig_star[None] - sig)  # (L+1, n)
    lin_modes = (chi * lam)[None, :] ** depths[:, None] * e0[None, :]

    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    t1 = time.perf_counter()
    ens = ensemble_first_diagonal(
        sig0,
        sig_star,
        args.depth,
        v,
        sw,
        sb,
        act,
        channels=args.channels,
        networks=args.networks,
        samples=args.samples,
        generator=gen,
        device=args.device,
        chunk=args.chunk,
    )
    t_ens = time.perf_counter() - t1

    rows = []
    for m in range(n):
        for src, arr, se in (
            ("ensemble", ens["mean"][:, m], ens["stderr"][:, m]),
            ("mean_field", mf_modes[:, m], np.zeros(depths.size)),
            ("linear", lin_modes[:, m], np.zeros(depths.size)),
        ):
            for l in depths:
                rows.append(
                    {
                        "seed": args.seed,
                        "mode": m,
                        "depth": int(l),
                        "source": src,
                        "coef_real": arr[l].real,
                        "coef_imag": arr[l].imag,
                        "abs_coef": abs(arr[l]),
                        "stderr": se[l],
                    }
                )
    curves = pd.DataFrame(rows)

    fits = []
    for m in range(n):
        f = fit_decay_rate(depths, ens["mean"][:, m], ens["stderr"][:, m], snr=5.0, start=1)
        win = (depths >= f["window_start"]) & (depths <= f["window_end"])
        g = fit_decay_rate(depths[win], mf_modes[win, m], None, start=1)
        pred = chi * lam[m]
        fits.append(
            {
                "seed": args.seed,
                "mode": m,
                "lambda": lam[m],
                "chi_c": chi,
                "predicted_rate": pred,
                "fitted_rate": f["rate"],
                "fitted_rate_stderr": f["rate_stderr"],
                "rel_error": f["rate"] / pred - 1.0,
                "window_start": f["window_start"],
                "window_end": f["window_end"],
                "points": f["points"],
                "mean_field_map_rate": g["rate"],
                "mean_field_map_rel_error": g["rate"] / pred - 1.0,
                "within_5pct": bool(abs(f["rate"] / pred - 1.0) <= 0.05),
            }
        )
    fits = pd.DataFrame(fits)

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(curves, args.out / "curves.csv")
    write_csv(fits, args.out / "fits.csv")
    fig = appendix_f_figure(curves[curves["mode"] <= n // 2])
    fig.savefig(args.out / "appendix_f.png", dpi=130)
    meta = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "seed": args.seed,
        "device": args.device,
        "channels": args.channels,
        "networks": args.networks,
        "samples": args.samples,
        "depth": args.depth,
        "q_star": q,
        "c_star": c,
        "chi_c": chi,
        "seconds_total": time.perf_counter() - t0,
        "seconds_ensemble": t_ens,
        "torch": torch.__version__,
        "all_within_5pct": bool(fits["within_5pct"].all()),
    }
    (args.out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(
        fits[
            [
                "mode",
                "predicted_rate",
                "fitted_rate",
                "rel_error",
                "window_start",
                "window_end",
                "mean_field_map_rel_error",
            ]
        ].to_string(index=False)
    )
    print(f"all within 5%: {meta['all_within_5pct']}  ({meta['seconds_total']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
