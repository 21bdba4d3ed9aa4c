"""Jacobian spectra of generic models: forward and stable vs a one-shot dense jacfwd SVD,
stable vs closed-form log|det J| and an mpmath product, Lanczos vs the full spectrum."""

import numpy as np
import pytest
import torch
from reference import mpmath_log_singular_values_of
from torch import nn

from spectra.errors import SpectraError
from spectra.jacobian import model_spectrum, w1_log_lambda


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())

    def forward(self, x):
        return x + self.body(x)


def _bn_stats(model: nn.Module, g: torch.Generator) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
    return model.eval().double()


def _models():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    strided = nn.Sequential(  # zero padding, GELU, stride 2, Tanh, avg pool, Flatten, Linear
        nn.Conv2d(3, 4, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    resnet = nn.Sequential(  # BatchNorm (eval), ReLU, residual add, widening Linear head
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        Residual(4),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 40),
    )
    square = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, 2, 3, padding=1))
    return [
        (_bn_stats(strided, g), torch.randn(1, 3, 8, 8, generator=g, dtype=torch.float64)),
        (_bn_stats(resnet, g), torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64)),
        (_bn_stats(square, g), torch.randn(1, 2, 5, 5, generator=g, dtype=torch.float64)),
    ]


def _dense_sv(f, x) -> np.ndarray:
    """The independent route: one-shot jacfwd, NumPy SVD."""
    j = torch.func.jacfwd(f)(x).reshape(-1, x.numel()).detach().numpy()
    return np.linalg.svd(j, compute_uv=False)


@pytest.mark.parametrize("case", range(3))
def test_forward_stable_vs_dense_jacfwd(case):
    model, x = _models()[case]
    ref = _dense_sv(model, x)
    for method in ("forward", "stable"):
        res = model_spectrum(model, x, method, budget=64 * 1024**2)
        s = np.exp(res.log_singular_values)
        assert s.shape == ref.shape
        # float64 throughout; 1e-10 of s_max leaves ~1e5 x eps for the QR/SVD rounding
        np.testing.assert_allclose(s, ref, rtol=0, atol=1e-10 * ref[0])


def test_forward_chunks_vs_one_chunk():
    model, x = _models()[2]
    small = model_spectrum(model, x, "forward", budget=2 * 50**2 * 8 + 4000)
    ref = _dense_sv(model, x)
    # the tiny budget forces several chunks; same float64 values to rounding
    np.testing.assert_allclose(np.exp(small.log_singular_values), ref, rtol=0, atol=1e-12)


def test_named_intermediate_vs_truncated_sequential():
    model, x = _models()[1]
    res = model_spectrum(model, x, "stable", output="3.body.0")  # the residual's conv
    trunc = nn.Sequential(*list(model)[:3], model[3].body[0])
    np.testing.assert_allclose(
        np.exp(res.log_singular_values), _dense_sv(trunc, x), rtol=0, atol=1e-10
    )
    with pytest.raises(SpectraError, match="no module"):
        model_spectrum(model, x, "forward", output="layer9")


def _deep_mlp(n: int, depth: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    layers = []
    for _ in range(depth):
        lin = nn.Linear(n, n).double()
        with torch.no_grad():
            lin.weight.copy_(torch.randn(n, n, generator=g, dtype=torch.float64) * 2 / n**0.5)
            lin.bias.zero_()
        # leaky ReLU: a Gaussian ReLU-type net whose J is invertible, so log|det J| exists
        layers += [lin, nn.LeakyReLU(0.2)]
    x = torch.randn(1, n, generator=g, dtype=torch.float64)
    return nn.Sequential(*layers), x


def _closed_form_logdet(model, x) -> float:
    """sum over layers of log|det W| + sum log phi'(h): no Jacobian product at all."""
    total, h = 0.0, x
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                total += float(torch.linalg.slogdet(m.weight)[1])
                h = m(h)
            else:
                total += float(np.log(np.where(h.numpy() > 0, 1.0, m.negative_slope)).sum())
                h = m(h)
    return total


def _layer_matrices(model, x):
    h = x
    with torch.no_grad():
        for lin, act in zip(model[::2], model[1::2], strict=True):
            z = lin(h)
            d = np.where(z.numpy() > 0, 1.0, act.negative_slope).reshape(-1)
            yield d[:, None] * lin.weight.numpy()
            h = act(z)


def test_stable_deep_relu_vs_analytic_logdet():
    model, x = _deep_mlp(16, 200, 3)
    res = model_spectrum(model, x, "stable")
    ls = res.log_singular_values
    assert (ls[0] - ls[-1]) / np.log(10) > 100  # the spectrum spans > 100 decades
    # sum log s = log|det J|; ~1000 nats summed over 400 stages: 1e-8 absolute is ~1e-11
    # relative, well above the QR rounding (~N eps per stage)
    assert abs(ls.sum() - _closed_form_logdet(model, x)) < 1e-8 * max(1.0, abs(ls.sum()))


@pytest.mark.slow
def test_stable_deep_relu_vs_mpmath_and_forward_fails():
    model, x = _deep_mlp(8, 200, 5)
    ref = mpmath_log_singular_values_of(list(_layer_matrices(model, x)), dps=250)
    assert (ref[0] - ref[-1]) / np.log(10) > 100
    st = model_spectrum(model, x, "stable").log_singular_values
    # 1e-6 relative in s is 1e-6 absolute in log s
    np.testing.assert_allclose(st, ref, rtol=0, atol=1e-6)
    fw = model_spectrum(model, x, "forward").log_singular_values
    # plain float64 forward loses everything below s_max * eps: the bottom is wrong
    assert np.nanmax(np.abs(np.nan_to_num(fw - ref, nan=np.inf, neginf=np.inf))) > 1.0


def test_lanczos_vs_full_spectrum_w1():
    model, x = _models()[2]
    full = model_spectrum(model, x, "forward").log_singular_values
    res = model_spectrum(model, x, "lanczos", lanczos_options={"steps": 50, "probes": 2})
    assert res.info["gram_side"] == "J^T J"
    # steps = N = 50 with full re-orthogonalisation: each probe's Ritz values are all the
    # s^2 (float64; the smallest s^2 ~ 1e-9 s_max^2 keeps ~1e-7 relative, hence 1e-5 in log)
    np.testing.assert_allclose(
        np.sort(res.density["ritz_log_lambda"][:50]), np.sort(2 * full), atol=1e-5
    )
    # the Gauss weights are the probe's squared eigen-components: W1 to the exact measure
    # is the probe noise only, ~ spread / sqrt(probes N) ~ 1; the exact nodes give < 1
    assert w1_log_lambda(res.density, full) < 1.0
    # a head narrower than the input: the Gram side switches and n = N_out
    model, x = _models()[0]
    res = model_spectrum(model, x, "lanczos", lanczos_options={"steps": 10, "probes": 2})
    assert res.info["gram_side"] == "J J^T" and res.info["n"] == 10
    full = model_spectrum(model, x, "forward").log_singular_values
    # steps = N_out = 10: Lanczos is exact, so the Ritz values are the s^2 themselves
    np.testing.assert_allclose(
        np.sort(res.density["ritz_log_lambda"][:10]), np.sort(2 * full), atol=1e-8
    )


def test_auto_says_why():
    model, x = _models()[2]
    res = model_spectrum(model, x)
    assert res.method == "forward" and res.reason.startswith("auto: forward")
    deep, xd = _deep_mlp(8, 100, 1)
    res = model_spectrum(deep, xd, "auto")
    assert res.method == "stable" and "re-ran stable" in res.reason
