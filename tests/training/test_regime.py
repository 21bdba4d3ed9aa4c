"""The deep-regime machinery (spectra.training): per-group learning rates, matched
input and readout scales, the diagnosis."""

from __future__ import annotations

import math

import pytest
import torch

from spectra.data import load_dataset
from spectra.training import TrainConfig, build_model, lr_factors, make_optimizer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _cfg(**kw):
    base = dict(dataset="digits", depth=3, channels=4, steps=24, batch_size=32, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_lr_groups_follow_scaling(digits):
    for mode, optimizer in [("depth", "sgd"), ("qstar", "sgd"), ("qstar", "adam")]:
        cfg = _cfg(depth=20, lr_scaling=mode, optimizer=optimizer)
        model = build_model(cfg, digits)
        q = model.q_star
        fac = lr_factors(cfg, q)
        opt = make_optimizer(model, cfg)
        lrs = {g["name"]: g["lr"] for g in opt.param_groups}
        assert set(lrs) == set(fac)
        for k, v in fac.items():
            assert math.isclose(lrs[k], cfg.lr * v)
        n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
        assert n_params == sum(p.numel() for p in model.parameters())
        assert math.isclose(fac["weight"], q)
        if optimizer == "sgd":
            assert math.isclose(fac["bias"], q * q)
        if mode == "qstar":
            sb = {g["name"]: g for g in opt.param_groups}["stem_bias"]
            assert [p.ndim for p in sb["params"]] == [1, 1, 1]  # the three stem biases
    none = make_optimizer(model, _cfg(depth=20, lr_scaling="none"))
    assert all(g["lr"] == cfg.lr for g in none.param_groups)


def test_block_input_matched_to_q_star_and_readout_scale(digits):
    """The library's deep-regime scales: the block sees mean square q* (on the images
    the scale was fitted on: 4 fixed-point rounds on a near-linear stem, checked at 1e-2
    for q* = 1/40, 1/100) and the head gets features multiplied by 1/sqrt(q*)."""
    from spectra.training import diagnose

    for depth in (40, 100):
        model = build_model(_cfg(depth=depth, channels=8), digits)
        x = digits.x_train[:256]
        with torch.no_grad():
            q_in = float(model.block_input(x).pow(2).mean())
        assert abs(q_in / model.q_star - 1) < 1e-2, (depth, q_in, model.q_star)
        assert math.isclose(float(model.readout_scale), model.q_star**-0.5, rel_tol=1e-12)
        plain = build_model(
            _cfg(depth=depth, channels=8, match_input=False, readout_scale=False), digits
        )
        assert float(plain.input_scale) == 1.0 and float(plain.readout_scale) == 1.0
        # same weights either way: the scales are the only difference
        assert torch.equal(plain.net.block.weight, model.net.block.weight)
        r = diagnose(model, x[:64], digits.y_train[:64])
        assert abs(r["block_in_q"] / model.q_star - 1) < 5e-2  # a 64-image subsample
        assert all(r[f"g2_{k}"] > 0 for k in ("stem", "weight", "bias", "head"))
