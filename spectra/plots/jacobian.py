"""Seaborn figures for Jacobian spectra: histogram of log10 s against the free-probability
law ([T29]-[T30]); Lanczos density against theory. Each returns a matplotlib Figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "jacobian_figure",
    "density_figure",
    "theory_log10_s",
    "spectra_grid_figure",
    "fd_edges",
]

_LN10 = math.log(10.0)


def theory_log10_s(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The law of J J^T as a density of u = log10 s: lambda = 10^(2u), so per unit u it is
    (lambda rho(lambda)) * 2 ln 10 (``density_log`` is per unit ln lambda)."""
    u = frame["log_lambda"].to_numpy() / (2.0 * _LN10)
    return u, frame["density_log"].to_numpy() * 2.0 * _LN10


def _title(row: dict) -> str:
    """Two title lines from a summary row; fields that are missing or NaN (a user's model has
    no sigma_w, no theory KS) are left out rather than printed as nan."""

    def known(v) -> bool:
        return v is not None and not (isinstance(v, float) and math.isnan(v))

    def join(fields) -> str:
        return ", ".join(f"{k}={fmt(row[c])}" for k, c, fmt in fields if known(row.get(c)))

    g = "{:.6g}".format
    first = join([("L", "depth", str), ("c", "channels", str), ("n", "size", str)])
    first = f"{row.get('init')} {row.get('activation')}, {first}, method={row.get('method')}"
    second = join(
        [
            ("sigma_w", "sigma_w", g),
            ("sigma_b", "sigma_b", "{:.3g}".format),
            ("KS(bulk)", "ks", "{:.3g}".format),
            ("KS(all)", "ks_all", "{:.3g}".format),
            ("outliers", "n_outliers", str),
        ]
    )
    return f"{first}\n{second}" if second else first


def _overlay(ax, frame) -> None:
    if frame is None:
        return
    pm = frame.attrs.get("point_mass")
    if pm:
        ax.axvline(math.log10(pm) / 2.0, color="k", lw=1.5, label="theory (point mass)")
        return
    u, dens = theory_log10_s(frame)
    keep = dens > 1e-3 * np.nanmax(dens)  # the far tails would squash the picture
    ax.plot(u[keep], dens[keep], color="k", lw=1.5, label="free probability")


def fd_edges(x: np.ndarray, max_bins: int = 120) -> np.ndarray:
    """Freedman-Diaconis bin edges for ``x`` (width 2 IQR / n^(1/3), at most
    ``max_bins`` bins, at least 10)."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(np.min(x)), float(np.max(x))
    q75, q25 = np.percentile(x, [75, 25])
    width = 2.0 * (q75 - q25) / max(len(x), 1) ** (1.0 / 3.0)
    n = int(np.clip(np.ceil((hi - lo) / width) if width > 0 else 10, 10, max_bins))
    return np.linspace(lo, hi, n + 1)


def _bulk_cdf(frame: pd.DataFrame, ln_s: np.ndarray) -> np.ndarray:
    """The law's CDF at ln s (the frame's CDF is over ln lambda = 2 ln s)."""
    ell, cdf = frame["log_lambda"].to_numpy(), frame["cdf"].to_numpy()
    return np.interp(2.0 * ln_s, ell, cdf, left=0.0, right=1.0)


def jacobian_figure(sv: pd.DataFrame, frame: pd.DataFrame | None, row: dict):
    """Two panels from ``singular_values.csv`` rows and a summary ``row``.

    Left: the bulk (the ``n_outliers`` smallest values left out) as a histogram of ln s
    with Freedman-Diaconis bins, drawn against s (a log axis where the values span more
    than a decade), the bulk law's density per unit ln s on it (``frame``: the bulk law,
    see :func:`spectra.studies.bulk_frame`), the outliers as red ticks and their
    mean-field position [T36] as a dashed line. Right: the bulk's empirical CDF against
    the law's, the KS distance marked where it is attained."""
    fig = Figure(figsize=(10.0, 4.0))
    ax, bx = fig.subplots(1, 2)
    pal = sns.color_palette("colorblind")
    ls = np.sort(sv["log_singular_value"].to_numpy())
    zeros = int(np.sum(~np.isfinite(ls)))  # exact zeros (ln s = -inf): counted, not drawn
    ls = ls[np.isfinite(ls)]
    k = min(max(int(row.get("n_outliers", 0) or 0) - zeros, 0), max(ls.size - 1, 0))
    bulk, outl = ls[k:], ls[:k]
    title = _title(row) + (f"\n{zeros} exact zero(s), not drawn" if zeros else "")
    if bulk.size == 0:
        for a in (ax, bx):
            a.text(0.5, 0.5, "every singular value is 0", ha="center", transform=a.transAxes)
        fig.suptitle(title, fontsize=9)
        return fig
    span = (ls[-1] - ls[0]) / _LN10
    if np.ptp(bulk) < 1e-9:
        ax.axvline(math.exp(bulk[0]), color=pal[0], lw=3, label="empirical")
    else:
        edges = fd_edges(bulk)
        h, _ = np.histogram(bulk, edges, density=True)
        ax.stairs(h, np.exp(edges), fill=True, color=pal[0], alpha=0.55, label="bulk")
    if frame is not None and not frame.attrs.get("point_mass"):
        dens = frame["density_log"].to_numpy() * 2.0  # per unit ln s
        keep = dens > 1e-3 * np.nanmax(dens)
        ax.plot(
            np.exp(frame["log_lambda"].to_numpy()[keep] / 2.0),
            dens[keep],
            color="k",
            lw=1.5,
            label="bulk law",
        )
    if k:
        ymax = ax.get_ylim()[1]
        ax.plot(np.exp(outl), np.zeros(k), "|", color=pal[3], ms=14, mew=2, label=f"{k} outlier(s)")
        pred = row.get("theory_log_s_outlier", math.nan)
        if math.isfinite(pred):
            ax.axvline(math.exp(pred), color=pal[3], ls="--", lw=1.2, label="predicted outlier")
        ax.set_ylim(-0.03 * ymax, ymax)
    if span > 0.5:
        _log_axis(ax)
    ax.set_xlabel("singular value s")
    ax.set_ylabel("density per unit ln s")
    ax.legend(fontsize=7)
    _cdf_panel(bx, bulk, frame, row, pal)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _log_axis(ax) -> None:
    """A log s axis for spectra spanning decades: labels at 1, 2, 5 per decade over a
    short range, else at most ~7 powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    subs = (1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)
    step = max(1, int(math.ceil(decades / 7)))  # at most ~7 labels
    ax.xaxis.set_major_locator(LogLocator(base=10.0**step, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _cdf_panel(bx, bulk: np.ndarray, frame, row: dict, pal) -> None:
    n = bulk.size
    emp = np.arange(1, n + 1) / n
    bx.step(np.exp(bulk), emp, where="post", color=pal[0], label="bulk, empirical")
    if frame is not None:
        grid = np.linspace(bulk[0], bulk[-1], 400)
        bx.plot(np.exp(grid), _bulk_cdf(frame, grid), color="k", lw=1.2, label="bulk law")
        ft = _bulk_cdf(frame, bulk)
        dev = np.maximum(np.abs(emp - ft), np.abs(emp - 1.0 / n - ft))
        i = int(np.argmax(dev))
        y0, y1 = sorted((ft[i], emp[i] if abs(emp[i] - ft[i]) >= dev[i] else emp[i] - 1.0 / n))
        bx.vlines(math.exp(bulk[i]), y0, y1, color=pal[3], lw=2.5, label=f"KS = {dev[i]:.3f}")
    if (bulk[-1] - bulk[0]) / _LN10 > 0.5:
        _log_axis(bx)
    bx.set_xlabel("singular value s")
    bx.set_ylabel("CDF")
    bx.legend(fontsize=7, loc="upper left")


def density_figure(dens: pd.DataFrame, row: dict):
    """Lanczos (smoothed) and theory densities of log10 s from ``density.csv``."""
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.subplots()
    pal = sns.color_palette("colorblind")
    for i, (src, sub) in enumerate(dens.groupby("source", sort=True)):
        lam = sub["lambda"].to_numpy()
        keep = lam > 0
        lam, d = lam[keep], sub["density"].to_numpy()[keep]
        ax.plot(np.log10(lam) / 2.0, d * lam * 2.0 * _LN10, label=src, color=pal[i], lw=1.5)
    ax.set_xlabel("log10 singular value")
    ax.set_ylabel("density")
    ax.set_title(_title(row), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def spectra_grid_figure(sv: pd.DataFrame, frames: dict, summary: pd.DataFrame | None = None):
    """Grid of histograms of log10 s: rows = depth, columns = init, each with its
    free-probability density (``frames[(init, depth)]``, a density frame or None)."""
    inits = list(dict.fromkeys(sv["init"]))
    depths = sorted(sv["depth"].unique())
    fig = Figure(figsize=(3.4 * len(inits), 2.5 * len(depths)))
    axes = fig.subplots(len(depths), len(inits), squeeze=False)
    pal = sns.color_palette("colorblind")
    for i, d in enumerate(depths):
        for j, init in enumerate(inits):
            ax = axes[i, j]
            sub = sv[(sv["depth"] == d) & (sv["init"] == init)]
            u = sub["log_singular_value"].to_numpy() / _LN10
            if len(u) and np.ptp(u) > 1e-9:
                sns.histplot(x=u, bins=50, stat="density", ax=ax, color=pal[j], label="empirical")
            elif len(u):
                ax.axvline(float(u[0]), color=pal[j], lw=3, label="empirical")
            _overlay(ax, frames.get((init, d)))
            title = f"{init}, L={d}"
            if summary is not None:
                row = summary[(summary["depth"] == d) & (summary["init"] == init)]
                if len(row):
                    title += f"  KS={row['ks'].iloc[0]:.2f}"
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("log10 s" if i == len(depths) - 1 else "")
            ax.set_ylabel("density" if j == 0 else "")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
