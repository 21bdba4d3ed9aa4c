"""Seaborn figures for training: learning curves, steps-to-target, correlation, heatmap.

Each function takes a tidy DataFrame and returns a matplotlib Figure (Agg backend).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["learning_curves", "steps_vs_depth", "correlation_scatter", "trainability_heatmap"]


def learning_curves(history: pd.DataFrame, *, hue: str | None = None, window: int = 50):
    """Accuracy against step: running-mean train accuracy (solid) and test (markers).

    ``history``: rows of ``history.csv`` (possibly several runs, told apart by ``hue``).
    """
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    groups = [(None, history)] if hue is None else list(history.groupby(hue, sort=True))
    palette = sns.color_palette("colorblind", max(len(groups), 1))
    for color, (key, df) in zip(palette, groups, strict=False):
        label = "" if key is None else f"{hue}={key}"
        tr = df[df["split"] == "train"].sort_values("step")
        sm = tr["accuracy"].rolling(window, min_periods=1).mean()
        ax.plot(tr["step"], sm, color=color, lw=1.5, label=f"train {label}".strip())
        te = df[df["split"] == "test"].sort_values("step")
        if len(te):
            ax.plot(
                te["step"],
                te["accuracy"],
                "o--",
                color=color,
                ms=3,
                lw=0.8,
                label=f"test {label}".strip(),
            )
    ax.set_xlabel("step")
    ax.set_ylabel(f"accuracy (train: {window}-step running mean)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def steps_vs_depth(
    df: pd.DataFrame, *, y: str = "steps_to_target", hue: str = "init", target: float | None = None
):
    """Steps to the target accuracy against depth (log x), one line per ``hue``."""
    fig = Figure(figsize=(5.6, 4.0))
    ax = fig.subplots()
    sns.lineplot(data=df, x="depth", y=y, hue=hue, marker="o", ax=ax, errorbar=None)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    title = "steps to target" if target is None else f"steps to {target:.0%} train accuracy"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def correlation_scatter(
    df: pd.DataFrame, *, x: str, y: str, rho: float | None = None, ylabel: str | None = None
):
    """Scatter of a spectral statistic ``x`` against a training-speed column ``y``."""
    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.subplots()
    sns.scatterplot(data=df, x=x, y=y, hue="init", size="depth", ax=ax)
    if df[x].gt(0).all():
        ax.set_xscale("log")
    if rho is not None:
        ax.set_title(f"Spearman rho = {rho:.3f}")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def trainability_heatmap(
    df: pd.DataFrame,
    *,
    value: str = "accuracy",
    curve: pd.DataFrame | None = None,
    fit_c: float | None = None,
):
    """Heatmap of ``value`` over (sigma_w², depth); optional ``curve`` (sigma_w2, depth)
    of c·xi_c drawn on top (the paper's Fig 2). Depths spanning a decade or more are
    drawn on a log axis."""
    table = df.pivot_table(index="depth", columns="sigma_w2", values=value, aggfunc="mean")
    table = table.sort_index(ascending=True)
    xs, ys = table.columns.to_numpy(float), table.index.to_numpy(float)
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.subplots()

    # cell edges: midpoints between grid values
    def edges(v):
        v = np.asarray(v, float)
        if len(v) == 1:
            return np.array([v[0] * 0.9, v[0] * 1.1])
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    # depths spanning a decade or more (2 ... 200) are drawn on a log axis, cells
    # bounded at geometric midpoints, so shallow rows are not squashed
    log_depth = ys.min() > 0 and ys.max() >= 10 * ys.min()
    y_edges = np.exp(edges(np.log(ys))) if log_depth else edges(ys)
    mesh = ax.pcolormesh(
        edges(xs), y_edges, table.to_numpy(), cmap="viridis", vmin=0, vmax=1, shading="flat"
    )
    fig.colorbar(mesh, ax=ax, label=value)
    if curve is not None and len(curve):
        lab = "c·ξ_c" if fit_c is None else f"{fit_c:.2f}·ξ_c"
        ax.plot(curve["sigma_w2"], curve["depth"], "w--", lw=2, label=lab)
        ax.legend(loc="upper right")
    if log_depth:
        ax.set_yscale("log")
        ax.set_yticks(ys, [f"{v:g}" for v in ys])
        ax.minorticks_off()
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("depth")
    fig.tight_layout()
    return fig
