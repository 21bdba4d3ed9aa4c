"""spectra.plots.rmt: each figure function takes tidy frames and returns a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from spectra import rmt  # noqa: E402
from spectra.plots.rmt import density_figure, histogram_figure, variance_figure  # noqa: E402


def test_figures_draw_from_frames():
    f = rmt.density_frame(4, "orth", q_star=0.02, points=64).assign(weights="orth")
    fig = density_figure(f, title="t")
    # narrow spectrum (< 2 decades): rho(lambda) against lambda, the frame's own values
    # (trimmed to where the density is visible: >= 1e-6 of its maximum)
    x, y = fig.axes[0].lines[0].get_data()
    lookup = dict(zip(f["lambda"], f["density"], strict=True))
    np.testing.assert_array_equal(y, [lookup[v] for v in x])
    assert y.max() == f["density"].max()
    plt.close(fig)
    pm = rmt.density_frame(3, "orth", sigma_w=1.2, sigma_b=0.0, activation="linear")
    fig = density_figure(pm.assign(weights="orth"))
    assert len(fig.axes[0].collections) == 1  # the point mass is a stem, not a curve
    plt.close(fig)
    rng = np.random.default_rng(0)
    emp = pd.DataFrame({"init": "orth", "depth": 4, "log_singular_value": rng.normal(0, 0.3, 200)})
    fig = histogram_figure(emp, f.assign(init="orth", depth=4))
    assert len(fig.axes) == 1
    plt.close(fig)
    summ = pd.DataFrame(
        {"init": ["orth"] * 2, "depth": [4, 16], "var_sq": [0.5, 0.6], "theory_var_sq": [0.5, 0.55]}
    )
    fig = variance_figure(summ)
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)
