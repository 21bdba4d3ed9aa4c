"""Figures for the free-probability spectrum of J Jᵀ (the theory page, pitfalls).

Each function takes tidy DataFrames and returns a matplotlib Figure (Agg; never shown).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["density_figure", "histogram_figure", "variance_figure"]

_LN10 = math.log(10.0)


def _visible(frame: pd.DataFrame, frac: float = 1e-6) -> pd.DataFrame:
    """The part of a density frame that carries visible density (≥ frac × max)."""
    d = frame["density_log"].to_numpy()
    keep = d >= frac * max(d.max(), 1e-300)
    if keep.sum() < 2:
        return frame
    i = np.flatnonzero(keep)
    return frame.iloc[max(i[0] - 1, 0) : i[-1] + 2]


def density_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """The density of λ = s² from :func:`spectra.rmt.density_frame` (one or several laws,
    told apart by a ``weights`` column if present). Where the spectrum spans more than two
    decades, λρ(λ) (density per unit log λ) is drawn against log₁₀ λ; otherwise ρ(λ)
    against λ. A point mass is drawn as a labelled stem."""
    sns.set_theme(style="whitegrid")
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    groups = list(frame.groupby("weights")) if "weights" in frame else [("", frame)]
    parts = [(name, _visible(g)) for name, g in groups]
    ells = np.concatenate([p["log_lambda"].to_numpy() for _, p in parts])
    wide = (ells.max() - ells.min()) / _LN10 > 2.0
    for name, part in parts:
        atom = part["atom"].to_numpy() if "atom" in part else np.zeros(len(part))
        label = str(name) or None
        if atom.sum() > 0 and len(part) == 1:
            x = part["log_lambda"].iloc[0] / _LN10 if wide else part["lambda"].iloc[0]
            ax.vlines(x, 0.0, 1.0, lw=2.5, color="C3", label=f"{label or ''} point mass".strip())
            ax.annotate(f"δ(λ − {part['lambda'].iloc[0]:.4g})", (x, 1.0), ha="center", va="bottom")
            continue
        if wide:
            ax.plot(part["log_lambda"] / _LN10, part["density_log"], label=label)
        else:
            ax.plot(part["lambda"], part["density"], label=label)
    if wide:
        ax.set_xlabel("log₁₀ λ   (λ = s², eigenvalue of J Jᵀ)")
        ax.set_ylabel("λ ρ(λ)  (density per unit log λ)")
    else:
        ax.set_xlabel("λ = s² (eigenvalue of J Jᵀ)")
        ax.set_ylabel("ρ(λ)")
    ax.set_ylim(bottom=0.0)
    if title:
        ax.set_title(title)
    if any(name for name, _ in parts):
        ax.legend()
    fig.tight_layout()
    return fig


def histogram_figure(
    empirical: pd.DataFrame, theory: pd.DataFrame, *, col: str = "init", row: str = "depth"
) -> Figure:
    """Histograms of log₁₀ s² (``empirical``: columns ``log_singular_value``, ``col``,
    ``row``) against the theory density per unit log₁₀ s² (``theory``: density frames
    stacked with the same ``col``/``row`` keys). A grid of panels, ``row`` × ``col``."""
    sns.set_theme(style="whitegrid")
    cols = list(dict.fromkeys(empirical[col]))
    rows = list(dict.fromkeys(empirical[row]))
    if all(isinstance(r, (int, float, np.integer, np.floating)) for r in rows):
        rows = sorted(rows)
    fig = Figure(figsize=(3.2 * len(cols), 2.4 * len(rows)))
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i][j]
            e = empirical[(empirical[row] == r) & (empirical[col] == c)]
            x = 2.0 * e["log_singular_value"].to_numpy() / _LN10
            x = x[np.isfinite(x)]
            if x.size == 0:
                ax.text(0.5, 0.5, f"{c}, {r}: not run", ha="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            if x.size:
                ax.hist(x, bins=40, density=True, color="C0", alpha=0.5)
            t = theory[(theory[row] == r) & (theory[col] == c)]
            if len(t) > 1:
                t = _visible(t, 1e-4)
                ax.plot(t["log_lambda"] / _LN10, t["density_log"] * _LN10, color="C3", lw=1.2)
            elif len(t) == 1:
                ax.axvline(t["log_lambda"].iloc[0] / _LN10, color="C3", lw=1.5)
            ax.set_title(f"{c}, {r}" if isinstance(r, str) else f"{c}, {row} {r}", fontsize=9)
            if i == len(rows) - 1:
                ax.set_xlabel("log₁₀ s²")
    fig.tight_layout()
    return fig


def variance_figure(frame: pd.DataFrame) -> Figure:
    """var(s²) (left) and, when present, var(log s²) (right) against depth (log–log):
    ``frame`` has ``depth``, ``init``, ``var_sq`` (empirical), ``theory_var_sq`` and
    optionally ``var_log_sq``, ``theory_var_log_sq``; points are measurements, lines the
    theory ([T34] for var(s²), the density for var(log s²))."""
    sns.set_theme(style="whitegrid")
    logs = "var_log_sq" in frame and "theory_var_log_sq" in frame
    fig = Figure(figsize=(11.0 if logs else 6.0, 4.0))
    axes = fig.subplots(1, 2 if logs else 1)
    axes = np.atleast_1d(axes)
    pairs = [("var_sq", "theory_var_sq", "var(s²)")]
    if logs:
        pairs.append(("var_log_sq", "theory_var_log_sq", "var(log s²)"))
    for ax, (emp, theo, label) in zip(axes, pairs, strict=True):
        for k, (name, g) in enumerate(frame.groupby("init", sort=False)):
            g = g.sort_values("depth")
            th = g.groupby("depth")[theo].first()
            ax.plot(th.index, th.to_numpy(), "-", color=f"C{k}", label=f"{name} theory")
            ax.plot(g["depth"], g[emp], "o", color=f"C{k}", label=f"{name} measured")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("depth L")
        ax.set_ylabel(f"{label} of the Jacobian spectrum")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
