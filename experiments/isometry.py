"""Dynamical isometry: Jacobian spectra of critical tanh nets against free probability.

Two parts, both written to ``results/isometry/`` (CSV + PNG + command.txt):

- ``acceptance``: tanh at the critical point with sigma_b = 0.05,
  depth 64: a fully-connected net of width 1000 (a circular conv with n = 1, k = 1) and
  circular-conv nets with n = 8, k = 3, c = 16 and 32 (N = 1024, 2048), Gaussian and
  orthogonal (Algorithm 1) weights, plus delta-orthogonal at c = 16. KS distance of the
  empirical s^2 to the law [T29]-[T30] and W1 of log s^2.
- ``sweep``: conv nets n = 8, c = 16 at the default operating point (critical, q* = 1/L)
  for Gaussian, orth and delta-orth at the given depths: histograms of log s^2 against
  the theory density, and var(s^2) against depth — linear for Gaussian, bounded for
  orthogonal when q* = 1/L ([T34]).

Empirical spectra come from the Jacobian engine (:func:`spectra.jacobian.spectrum`):
``stable`` (discrete QR in the log domain, [T24]) for Gaussian weights, whose spectra span
hundreds of nats, and ``auto`` in float64 (forward, checked a posteriori) for orthogonal
ones. Rows of an existing results folder with other keys are kept (``--append``), so a
deep sweep can be added from another machine.

    python experiments/isometry.py --part acceptance
    python experiments/isometry.py --part sweep --depths 16,64,256
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.integrate import trapezoid

from spectra import rmt
from spectra.jacobian import ConvStack, spectrum
from spectra.meanfield import operating_point
from spectra.network import BlockSpec, fixed_point_input
from spectra.studies import bulk_frame, outlier_theory
from spectra.tables import write_csv

KEYS = ["part", "net", "init", "depth", "channels", "size", "kernel", "seed"]
BASE = [k for k in KEYS if k != "seed"]  # the theory does not depend on the seed
STORED_THEORY_ROWS = 400  # theory rows kept per configuration in the CSV (size limit)
THEORY_POINTS = 800


def _configs(part: str, depths: list[int], inits: list[str], seed: int) -> list[dict]:
    if part == "acceptance":
        out = [
            dict(net="dense", init=i, depth=64, channels=1000, size=1, kernel=1)
            for i in ("gaussian", "orth")
        ]
        out += [
            dict(net="conv", init=i, depth=64, channels=16, size=8, kernel=3)
            for i in ("gaussian", "orth", "delta-orth")
        ]
        out += [
            dict(net="conv", init=i, depth=64, channels=32, size=8, kernel=3)
            for i in ("gaussian", "orth")
        ]
        return [dict(c, part=part, sigma_b_target=0.05, seed=seed) for c in out]
    return [
        dict(
            part=part,
            net="conv",
            init=i,
            depth=L,
            channels=16,
            size=8,
            kernel=3,
            sigma_b_target=None,
            seed=seed,
        )
        for L in depths
        for i in inits
    ]


def run_one(cfg: dict, seed: int, device: str) -> tuple[dict, np.ndarray, pd.DataFrame]:
    """Spectrum, theory frame and summary row of one configuration."""
    L = cfg["depth"]
    if cfg["sigma_b_target"] is not None:
        sw, sb, q = operating_point(L, sigma_b=cfg["sigma_b_target"])
    else:
        sw, sb, q = operating_point(L)
    spec = BlockSpec(L, cfg["channels"], cfg["size"], cfg["kernel"], 2, cfg["init"], sw, sb)
    g = torch.Generator().manual_seed(seed)
    x0 = fixed_point_input(cfg["channels"], cfg["size"], q_star=q, generator=g)
    stack = ConvStack.from_spec(spec, x0, "tanh", seed=seed + 1)
    method = "stable" if cfg["init"] == "gaussian" else "auto"
    t0 = time.perf_counter()
    res = spectrum(stack, method, dtype=torch.float64, device=device)
    seconds = time.perf_counter() - t0
    logs = res.log_singular_values
    frame = rmt.density_frame(L, cfg["init"], sigma_w=sw, sigma_b=sb, points=THEORY_POINTS)
    mean, var = rmt.theory_moments(L, cfg["init"], sw, sb)
    with np.errstate(over="ignore", under="ignore"):
        s2 = np.exp(2.0 * logs)
    row = {k: cfg[k] for k in KEYS}
    row.update(
        sigma_w=sw,
        sigma_b=sb,
        q_star=q,
        seed=seed,
        n=logs.size,
        method=res.method,
        mean_sq=float(s2.mean()),
        var_sq=float(s2.var()),
        theory_mean_sq=mean,
        theory_var_sq=var,
        **_outlier_columns(cfg, sw, sb, q, logs, frame),
        n_nonfinite=int((~np.isfinite(logs)).sum()),
        log_s2_max=float(2 * logs[0]),
        log_s2_min=float(2 * logs[-1]),
        seconds=seconds,
        device=device,
    )
    theory = frame[["log_lambda", "density_log", "cdf", "atom"]].copy()
    for k in BASE:
        theory[k] = cfg[k]
    return row, logs, theory


def _outlier_columns(cfg: dict, sw: float, sb: float, q: float, logs, frame) -> dict:
    """Mean-field outliers [T35] and the distances: ``ks``/``w1_log`` of the bulk (the
    outliers left out, against the law lifted by the trace they give up), ``ks_all`` /
    ``w1_log_all`` of every value."""
    config = dict(
        init=cfg["init"], depth=cfg["depth"], channels=cfg["channels"], size=cfg["size"],
        dim=2, sigma_w=sw, sigma_b=sb, q_star=q, activation="tanh",
    )  # fmt: skip
    out = outlier_theory(config, frame)
    k = out["n_outliers"]
    bulk = bulk_frame(frame, out)
    return dict(
        n_outliers=k,
        theory_log_s_outlier=out["theory_log_s_outlier"],
        log_s_min=float(np.min(logs)),
        ks=rmt.ks_distance(logs, bulk, log=True, outliers=k),
        w1_log=rmt.wasserstein_log(logs, bulk, log=True, outliers=k),
        ks_all=rmt.ks_distance(logs, frame, log=True),
        w1_log_all=rmt.wasserstein_log(logs, frame, log=True),
    )


def _compact_theory(th: pd.DataFrame) -> pd.DataFrame:
    """One theory curve per configuration (no seed), at most ~STORED_THEORY_ROWS rows:
    a longer curve keeps every other point and its last one (idempotent once short)."""
    th = th.drop(columns=["seed"], errors="ignore").drop_duplicates(subset=[*BASE, "log_lambda"])
    parts = []
    for _, g in th.groupby(BASE, sort=False):
        g = g.sort_values("log_lambda")
        if len(g) > STORED_THEORY_ROWS:
            keep = np.zeros(len(g), dtype=bool)
            keep[::2] = True
            keep[-1] = True
            g = g[keep]
        parts.append(g)
    return pd.concat(parts, ignore_index=True) if parts else th


def _log_spread(summary: pd.DataFrame, sv: pd.DataFrame, th: pd.DataFrame) -> pd.DataFrame:
    """Add var(log s^2): empirical (from the stored log singular values) and theoretical
    (trapezoid rule on the stored theory grid, in log lambda). Unlike var(s^2), which a
    single finite-N draw of a heavy-tailed Gaussian spectrum badly underestimates, it
    shows the spread of the spectrum robustly."""
    emp = (
        sv[np.isfinite(sv["log_singular_value"])]
        .assign(ls2=lambda d: 2.0 * d["log_singular_value"])
        .groupby(KEYS)["ls2"]
        .var(ddof=0)
        .rename("var_log_sq")
        .reset_index()
    )
    rows = []
    base = BASE
    for key, g in th.groupby(base):
        g = g.sort_values("log_lambda")
        ell, p = g["log_lambda"].to_numpy(), g["density_log"].to_numpy()
        mass = trapezoid(p, ell)
        if len(g) < 2 or mass <= 0:
            var = 0.0
        else:
            m = trapezoid(ell * p, ell) / mass
            var = float(trapezoid((ell - m) ** 2 * p, ell) / mass)
        rows.append((*key, var))
    theo = pd.DataFrame(rows, columns=[*base, "theory_var_log_sq"])
    summary = summary.drop(columns=["var_log_sq", "theory_var_log_sq"], errors="ignore")
    return summary.merge(emp, on=KEYS, how="left").merge(theo, on=base, how="left")


def _pooled_ks(agg: pd.DataFrame, sv: pd.DataFrame, th: pd.DataFrame) -> list[float]:
    """KS of the union of every seed's singular values against the law, per row of
    ``agg``: the empirical estimate of the expected spectral distribution, which is what
    the N -> infinity law describes (one net's spectrum also carries its finite-N global
    scale fluctuation, see the README)."""
    keys = ["net", "init", "depth", "channels"]
    out = []
    for _, r in agg.iterrows():
        sel = np.logical_and.reduce([sv[k] == r[k] for k in keys])
        law = th[np.logical_and.reduce([th[k] == r[k] for k in keys])]
        logs = np.sort(sv.loc[sel, "log_singular_value"].to_numpy())[::-1]
        out.append(rmt.ks_distance(logs, law, log=True) if logs.size and len(law) else np.nan)
    return out


def _merge(path: Path, new: pd.DataFrame, append: bool, keys: list[str]) -> pd.DataFrame:
    """Rows of ``new`` plus the rows of the CSV at ``path`` whose ``keys`` differ."""
    if not (append and path.exists()):
        return new
    old = pd.read_csv(path)
    if "seed" in keys and "seed" not in old:  # the first run (seed 0) had no seed column
        old["seed"] = 0
    if new.empty:
        return old
    have = set(map(tuple, new[keys].drop_duplicates().astype(str).to_numpy()))
    keep = [tuple(r) not in have for r in old[keys].astype(str).to_numpy()]
    return pd.concat([old[keep], new], ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["acceptance", "sweep"], required=True)
    p.add_argument("--depths", default="16,64,256", help="sweep depths")
    p.add_argument("--inits", default="gaussian,orth,delta-orth", help="sweep inits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, help="seeds --seed .. --seed + seeds - 1")
    p.add_argument(
        "--select",
        default="",
        help="only configs whose 'net:channels:init' contains one of these "
        "comma-separated strings (e.g. 'conv:16:orth,dense')",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--replot",
        action="store_true",
        help="compute nothing: re-aggregate and redraw the part from its CSVs",
    )
    p.add_argument("--out", type=Path, default=Path("results/isometry"))
    p.add_argument(
        "--no-append",
        dest="append",
        action="store_false",
        help="replace the part's files instead of merging rows by key",
    )
    args = p.parse_args(argv)
    depths = [int(t) for t in args.depths.split(",") if t.strip()]
    inits = [t.strip() for t in args.inits.split(",") if t.strip()]
    select = [t for t in args.select.split(",") if t]
    cfgs = [
        c
        for s in range(args.seed, args.seed + args.seeds)
        for c in _configs(args.part, depths, inits, s)
        if not select or any(t in f"{c['net']}:{c['channels']}:{c['init']}" for t in select)
    ]
    if args.replot:
        cfgs = []
    rows, svs, theories = [], [], []
    for cfg in cfgs:
        row, logs, theory = run_one(cfg, cfg["seed"], args.device)
        rows.append(row)
        sv = pd.DataFrame({k: cfg[k] for k in KEYS}, index=range(logs.size))
        sv["index"] = np.arange(logs.size)
        sv["log_singular_value"] = logs
        svs.append(sv)
        theories.append(theory)
        print(
            f"{row['net']:5s} {row['init']:10s} L={row['depth']:5d} c={row['channels']:4d} "
            f"n={row['size']} N={row['n']:5d} {row['method']:7s} ks={row['ks']:.4f} "
            f"w1={row['w1_log']:.3f} var={row['var_sq']:.4g} (theory {row['theory_var_sq']:.4g})"
            f" {row['seconds']:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    tag = args.part
    new_sv = pd.concat(svs, ignore_index=True) if svs else pd.DataFrame(columns=KEYS)
    new_th = pd.concat(theories, ignore_index=True) if theories else pd.DataFrame(columns=BASE)
    summary = _merge(out / f"{tag}_summary.csv", pd.DataFrame(rows), args.append, KEYS)
    sv = _merge(out / f"{tag}_singular_values.csv", new_sv, args.append, KEYS)
    old_th = out / f"{tag}_theory.csv"
    th = _compact_theory(
        _merge(old_th, new_th, args.append, BASE)
        if len(new_th)
        else (pd.read_csv(old_th) if old_th.exists() else new_th)
    )
    summary = summary.sort_values(["net", "channels", "init", "depth", "seed"], kind="stable")
    summary = _log_spread(summary, sv, th)
    write_csv(summary, out / f"{tag}_summary.csv")
    write_csv(sv, out / f"{tag}_singular_values.csv")
    write_csv(th, out / f"{tag}_theory.csv")
    agg = (
        summary.groupby(["net", "channels", "init", "depth"], sort=False)
        .agg(
            seeds=("seed", "count"),
            ks_mean=("ks", "mean"),
            ks_sd=("ks", "std"),
            ks_max=("ks", "max"),
            w1_log_mean=("w1_log", "mean"),
            var_sq_mean=("var_sq", "mean"),
            theory_var_sq=("theory_var_sq", "first"),
            mean_sq_mean=("mean_sq", "mean"),
            theory_mean_sq=("theory_mean_sq", "first"),
            var_log_sq_mean=("var_log_sq", "mean"),
            theory_var_log_sq=("theory_var_log_sq", "first"),
        )
        .reset_index()
    )
    agg["ks_pooled"] = _pooled_ks(agg, sv, th)
    write_csv(agg, out / f"{tag}_ks.csv")
    _figures(tag, summary, sv, th, out)
    command = "python " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    with open(out / "command.txt", "a") as fh:
        fh.write(f"{command}   # {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(agg.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _figures(tag: str, summary: pd.DataFrame, sv: pd.DataFrame, th: pd.DataFrame, out: Path):
    import matplotlib.pyplot as plt

    from spectra.plots.rmt import histogram_figure, variance_figure

    # Runs where the Jacobian engine returned non-finite log singular values are not
    # drawn (they stay in the CSVs, flagged by n_nonfinite > 0).
    bad = summary[summary.get("n_nonfinite", pd.Series(0, index=summary.index)).fillna(0) > 0]
    if len(bad):
        drop = set(map(tuple, bad[KEYS].astype(str).to_numpy()))
        sv = sv[[tuple(r) not in drop for r in sv[KEYS].astype(str).to_numpy()]]
        drop_base = set(map(tuple, bad[BASE].astype(str).to_numpy()))
        th = th[[tuple(r) not in drop_base for r in th[BASE].astype(str).to_numpy()]]
        summary = summary.drop(bad.index)
    if tag == "acceptance":
        label = lambda d: d["net"] + " c=" + d["channels"].astype(str) + ", L=64"  # noqa: E731
        fig = histogram_figure(
            sv.assign(net_c=label(sv)), th.assign(net_c=label(th)), col="init", row="net_c"
        )
    else:
        fig = histogram_figure(sv, th, col="init", row="depth")
    fig.savefig(out / f"{tag}_histograms.png", dpi=110)
    plt.close(fig)
    if tag == "sweep" and summary["depth"].nunique() > 1:
        fig = variance_figure(summary)
        fig.savefig(out / "variance_vs_depth.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
