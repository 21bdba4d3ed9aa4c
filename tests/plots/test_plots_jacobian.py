"""Titles of ``jacobian.png`` (spectra.plots.jacobian)."""

from __future__ import annotations

import math

from spectra.plots.jacobian import _title


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
