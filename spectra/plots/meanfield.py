"""Seaborn/matplotlib figures for the mean-field theory (Agg backend; each returns a Figure).

- :func:`phase_figure`: the (sigma_w^2, sigma_b^2) phase diagram (paper Fig S2).
- :func:`modes_figure`: sorted |lambda_m| of variance vectors (paper Fig 4(b)) and xi_m.
- :func:`appendix_f_figure`: per-Fourier-mode |epsilon^l(m)| vs depth (paper App. F).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["phase_figure", "modes_figure", "appendix_f_figure"]


def phase_figure(grid: pd.DataFrame, line: pd.DataFrame, *, levels=(2, 5, 10, 20, 50, 100)):
    """Phase diagram from :func:`spectra.meanfield_grid.phase_grid` and ``critical_line``.

    Ordered/chaotic regions shaded, xi_c contours labelled, the critical line coloured by q*.
    """
    sns.set_theme(style="white")
    a = np.sort(grid["sigma_w2"].unique())
    b = np.sort(grid["sigma_b2"].unique())
    g = grid.sort_values(["sigma_w2", "sigma_b2"])
    chaotic = (g["phase"].to_numpy() == "chaotic").reshape(a.size, b.size).T.astype(float)
    xi = g["xi_c"].to_numpy().reshape(a.size, b.size).T
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    ax.contourf(a, b, chaotic, levels=[-0.5, 0.5, 1.5], colors=["#dce9f5", "#f7dcd5"])
    cs = ax.contour(a, b, xi, levels=list(levels), colors="0.35", linewidths=0.8)
    ax.clabel(cs, fmt=lambda v: rf"$\xi_c$={v:g}", fontsize=7)
    act = str(grid["activation"].iloc[0])
    ln = line[(line["sigma_w2"] <= a.max()) & (line["sigma_b2"] <= b.max())]
    sc = ax.scatter(ln["sigma_w2"], ln["sigma_b2"], c=ln["q_star"], cmap="viridis", s=6, zorder=3)
    fig.colorbar(sc, ax=ax, label=r"$q^*$ on the critical line $\chi_1=1$")
    ax.text(0.05, 0.9, "ordered\n(vanishing gradients)", transform=ax.transAxes, fontsize=9)
    ax.text(0.62, 0.1, "chaotic\n(exploding gradients)", transform=ax.transAxes, fontsize=9)
    ax.set_xlim(a.min(), a.max())
    ax.set_ylim(b.min(), b.max())
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"Mean-field phase diagram ({act})")
    fig.tight_layout()
    return fig


def modes_figure(modes: pd.DataFrame):
    """Sorted |lambda_m| (descending) per variance vector, and the mode depth scales xi_m."""
    sns.set_theme(style="whitegrid")
    fig = Figure(figsize=(10, 4))
    (ax1, ax2) = fig.subplots(1, 2)
    for name, d in modes.groupby("name", sort=False):
        d = d.sort_values("rank")
        ax1.plot(d["rank"], d["abs_lambda"], marker=".", label=name)
        xi = d["xi"].replace(np.inf, np.nan)
        ax2.plot(d["rank"], xi, marker=".", label=name)
    n = int(modes["size"].iloc[0])
    dim = int(modes["dim"].iloc[0])
    ax1.set_xlabel("index (descending)")
    ax1.set_ylabel(r"singular value $|\lambda_m|$")
    ax1.set_title(f"Fourier modes of v on {n}" + (f"x{n}" if dim == 2 else ""))
    ax1.legend(fontsize=8)
    chi = float(modes["chi_c"].iloc[0])
    ax2.set_yscale("log")
    ax2.set_xlabel("index (descending)")
    ax2.set_ylabel(r"$\xi_m=-1/\log(\chi_{c^*}|\lambda_m|)$")
    ax2.set_title(rf"mode depth scales, $\chi_{{c^*}}$={chi:.6g} (inf omitted)")
    fig.tight_layout()
    return fig


def appendix_f_figure(curves: pd.DataFrame, fits: pd.DataFrame | None = None):
    """|epsilon^l(m)| vs depth l on a log scale, one colour per mode.

    ``curves`` columns: ``mode, depth, source`` (``ensemble`` | ``mean_field`` |
    ``linear``), ``abs_coef`` and, for the ensemble, ``stderr``. Ensemble points are markers
    with error bars, the exact covariance map a solid line, the linear prediction
    (chi_c* lambda_m)^l dashed.
    """
    sns.set_theme(style="whitegrid")
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    modes = sorted(curves["mode"].unique())
    pal = sns.color_palette("husl", len(modes))
    for col, m in zip(pal, modes, strict=True):
        d = curves[curves["mode"] == m]
        e = d[d["source"] == "ensemble"]
        ax.errorbar(
            e["depth"],
            e["abs_coef"],
            yerr=e.get("stderr"),
            fmt="o",
            ms=3,
            color=col,
            label=f"m={m}",
        )
        mfd = d[d["source"] == "mean_field"]
        ax.plot(mfd["depth"], mfd["abs_coef"], "-", color=col, lw=1)
        lin = d[d["source"] == "linear"]
        ax.plot(lin["depth"], lin["abs_coef"], "--", color=col, lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("depth l")
    ax.set_ylabel(r"$|\hat\epsilon^l(m)|$ (first cyclic diagonal)")
    ax.set_title(
        "Appendix F: markers ensemble, solid mean-field map, dashed $(\\chi_{c^*}\\lambda_m)^l$"
    )
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
