"""Seaborn figures for Jacobian spectra: histogram of log10 s against the free-probability
law ([T29]-[T30]); Lanczos density against theory. Each returns a matplotlib Figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["jacobian_figure", "density_figure", "theory_log10_s", "spectra_grid_figure"]

_LN10 = math.log(10.0)


def theory_log10_s(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The law of J J^T as a density of u = log10 s: lambda = 10^(2u), so per unit u it is
    (lambda rho(lambda)) * 2 ln 10 (``density_log`` is per unit ln lambda)."""
    u = frame["log_lambda"].to_numpy() / (2.0 * _LN10)
    return u, frame["density_log"].to_numpy() * 2.0 * _LN10


def _title(row: dict) -> str:
    return (
        f"{row.get('init')} {row.get('activation')}, L={row.get('depth')}, "
        f"c={row.get('channels')}, n={row.get('size')}, method={row.get('method')}\n"
        f"sigma_w={row.get('sigma_w'):.6g}, sigma_b={row.get('sigma_b'):.3g}, "
        f"KS={row.get('ks', float('nan')):.3g}"
    )


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


def jacobian_figure(sv: pd.DataFrame, frame: pd.DataFrame | None, row: dict):
    """Histogram (density scale) of log10 s from ``singular_values.csv`` rows, with the
    theory density per unit log10 s overlaid (a vertical line for a point mass)."""
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.subplots()
    u = sv["log_singular_value"].to_numpy() / _LN10
    bins = min(80, max(10, int(np.sqrt(len(u)))))
    if np.ptp(u) < 1e-9:
        ax.axvline(float(u[0]), color=sns.color_palette("colorblind")[0], lw=3, label="empirical")
    else:
        sns.histplot(
            x=u,
            bins=bins,
            stat="density",
            ax=ax,
            label="empirical",
            color=sns.color_palette("colorblind")[0],
        )
    _overlay(ax, frame)
    ax.set_xlabel("log10 singular value")
    ax.set_ylabel("density")
    ax.set_title(_title(row), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
