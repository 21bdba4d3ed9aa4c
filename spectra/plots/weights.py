"""Seaborn figure for the Fig S4 study: singular values of random conv vs dense matrices.

Takes the tidy frames of :mod:`spectra.weight_spectra` and returns a matplotlib Figure
(Agg backend; nothing is shown or saved here).
"""

from __future__ import annotations

import math

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["weights_figure"]


def weights_figure(
    singular_values: pd.DataFrame, theory: pd.DataFrame, ks: pd.DataFrame | None = None
):
    """One histogram panel per channel count (conv and dense singular values, density
    scale, quarter-circle law [T33] overlaid) and, when ``ks`` is given, a last panel with
    the KS distance to the law against c (log-log, mean over seeds)."""
    chans = sorted(singular_values["channels"].unique())
    panels = len(chans) + (ks is not None)
    ncols = min(4, panels)
    nrows = math.ceil(panels / ncols)
    fig = Figure(figsize=(3.3 * ncols, 2.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    axes = axes.ravel()
    palette = dict(zip(("conv", "dense"), sns.color_palette("colorblind", 2), strict=True))
    by_kind = {"hue": "kind", "hue_order": ["conv", "dense"], "palette": palette}
    qc = theory[theory["law"] == "quarter-circle"]
    first = singular_values.iloc[0]
    for ax, c in zip(axes, chans, strict=False):
        sub = singular_values[singular_values["channels"] == c]
        sns.histplot(
            data=sub,
            x="singular_value",
            **by_kind,
            stat="density",
            common_norm=False,
            element="step",
            bins=30,
            ax=ax,
            legend=ax is axes[0],
        )
        ax.plot(qc["x"], qc["density"], color="black", lw=1.2, label="quarter circle")
        ax.set_title(f"c = {c}  (N = {c * first['size'] ** first['dim']})", fontsize=9)
        ax.set_xlabel("singular value")
        ax.set_xlim(0, max(2.3, float(sub["singular_value"].max()) * 1.02))
    if ks is not None:
        ax = axes[len(chans)]
        mean = ks.groupby(["kind", "channels"], as_index=False)["ks"].mean()
        sns.lineplot(
            data=mean,
            x="channels",
            y="ks",
            **by_kind,
            marker="o",
            ax=ax,
        )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("channels c")
        ax.set_ylabel("KS distance to quarter circle")
        ax.set_title("KS distance vs c", fontsize=9)
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.suptitle(
        f"Singular values: {first['dim']}D circular conv (n = {first['size']}, "
        f"k = {first['kernel']}) vs dense Gaussian",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
