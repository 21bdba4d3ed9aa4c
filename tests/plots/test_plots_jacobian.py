"""``jacobian.png`` (spectra.plots.jacobian.jacobian_figure): its title and odd spectra."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spectra.plots.jacobian import jacobian_figure

LOG_S = pd.DataFrame({"log_singular_value": np.log([0.5, 0.8, 0.9, 1.0, 1.1, 1.2])})


def _title(row: dict, sv: pd.DataFrame = LOG_S) -> str:
    return jacobian_figure(sv, None, row)._suptitle.get_text()


def test_title_leaves_out_unknown_fields_and_keeps_known_ones():
    # a user's model has no sigma_w, sigma_b or theory KS: they are NaN in its summary row
    model = {"init": "as-built", "activation": "tiny_resnet", "depth": 5, "channels": 3}
    model.update(size=16, method="lanczos", sigma_w=math.nan, sigma_b=math.nan, ks=math.nan)
    title = _title(model)
    assert "nan" not in title.lower() and "sigma_w" not in title
    assert "L=5" in title and "method=lanczos" in title
    stack = {**model, "sigma_w": 1.0038, "sigma_b": 0.00028, "ks": 0.0271, "n_outliers": 1}
    title = _title(stack)
    assert "sigma_w=1.0038" in title and "KS(bulk)=0.0271" in title and "outliers=1" in title


def test_figure_with_exact_zero_singular_values_draws_the_rest():
    # a ReLU net can have exact zeros (ln s = -inf in singular_values.csv): they are counted
    # in the title and left out of the histogram, whose bins need finite values
    ls = np.array([-np.inf, -np.inf, -30.0, -2.0, -0.1, 0.0, 0.2])
    row = {"init": "orth", "activation": "relu", "depth": 2, "method": "forward"}
    sv = pd.DataFrame({"log_singular_value": ls})
    assert "2 exact zero(s)" in _title({**row, "n_outliers": 0}, sv)
    only_zeros = pd.DataFrame({"log_singular_value": [-np.inf] * 3})
    assert "3 exact zero(s)" in _title(row, only_zeros)
