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


def test_bounds_name_the_argument_the_value_and_what_is_allowed():
    from spectra.errors import SEED_MAX, check_q_star, check_seed, check_sigma

    assert check_seed("--seed", SEED_MAX) == SEED_MAX
    cases = [
        (lambda: check_int("--depth", 10**20, 1), "--depth must be in 1..9223372036854775807"),
        (lambda: check_int("--dim", 3, 1, 2), "--dim must be in 1..2, got 3"),
        (lambda: check_seed("--seed", 2**64 - 1), "--seed must be in 0..9223372036854775807"),
        (lambda: check_seed("--seed", -1), "--seed must be >= 0, got -1"),
        (lambda: check_seed("--seed", SEED_MAX, count=2), "runs past the largest seed"),
        (lambda: check_sigma("--sigma-w", 1e300), "--sigma-w must be > 0 and <= 1000"),
        (lambda: check_sigma("--sigma-b", -1, bias=True), "--sigma-b must be >= 0 and <= 1000"),
        (lambda: check_q_star("--q-star", 1e300), "--q-star must be >= 1e-12 and <= 1e+06"),
        (lambda: check_real("--lr", float("inf")), "--lr must be a finite number"),
        (lambda: check_int("--n", "9" * 5000), "--n must be an integer, got '9999"),
    ]
    for call, text in cases:
        with pytest.raises(SpectraError) as e:
            call()
        assert text in str(e.value) and "\n" not in str(e.value) and len(str(e.value)) < 200


def test_library_refuses_sigma_beyond_its_numerics():
    from spectra.meanfield import mean_field

    with pytest.raises(SpectraError, match="sigma_w must be > 0 and <= 1000"):
        mean_field(1e300, 0.0, "tanh")
