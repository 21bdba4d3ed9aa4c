"""The one set of argument checks: what each accepts, and the one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest

from spectra.errors import SpectraError, check_choice, check_int, check_real


def test_check_int_accepts_integers_and_refuses_the_rest():
    assert check_int("depth", np.int64(7), 1) == 7 and type(check_int("n", 3)) is int
    for bad, text in [(True, "integer"), (2.0, "integer"), ("3", "integer"), (0, ">= 1")]:
        with pytest.raises(SpectraError, match=text):
            check_int("depth", bad, 1)


def test_check_real_refuses_non_finite_and_out_of_range():
    assert check_real("q", "0.5", positive=True) == 0.5
    cases = [
        (float("nan"), {}, "finite"),
        (float("inf"), {}, "finite"),
        (10**400, {}, "number"),  # int too large for a float
        ("x", {}, "number"),
        (0.0, {"positive": True}, "> 0"),
        (-1e-300, {"nonneg": True}, ">= 0"),
    ]
    for value, kw, text in cases:
        with pytest.raises(SpectraError, match=text) as e:
            check_real("sigma_b", value, **kw)
        assert "\n" not in str(e.value) and "sigma_b" in str(e.value)


def test_check_choice_names_the_choices():
    assert check_choice("init", "orth", ["orth", "gaussian"]) == "orth"
    with pytest.raises(SpectraError, match="choose one of orth, gaussian"):
        check_choice("init", "ortho", ["orth", "gaussian"])
