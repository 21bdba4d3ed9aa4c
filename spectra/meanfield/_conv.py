"""The convolutional covariance map on 1D images and the paper's Appendix F experiment.

the theory page [T17]: for a circular CNN with spatial variance vector v (taps beta = -r..r),

    Sigma^{l+1}_{a,a'} = sum_beta v_beta C(Sigma^l)_{a+beta, a'+beta},
    C(Sigma)_{a,a'} = sigma_w^2 E_{h ~ N(0, Sigma)} phi(h_a) phi(h_a') + sigma_b^2,

iterated exactly here (each entry a 2D Gaussian integral on the [T13] tensor rule), with
fixed point Sigma* = q* [(1 - c*) I + c* 1 1^T]. [T18]: a perturbation on the first
cyclic diagonal decays per Fourier mode m like (chi_c* lambda_m)^l.

:func:`ensemble_first_diagonal` measures the same thing on finite random CNNs (torch,
float64): many independent networks of ``channels`` channels, each fed ``samples``
inputs drawn from N(0, Sigma^0) and, with the same Gaussian draws and the same weights,
from N(0, Sigma*) (common random numbers). The difference of their empirical covariances
estimates epsilon^l = E Sigma^l(Sigma*) - E Sigma^l(Sigma^0) without the O(1/c) drift of a
finite network's own fixed point, which would otherwise swamp epsilon after a few layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..activations import get_activation
from ..errors import SpectraError
from ..quadrature import gauss_nodes


def fixed_point_covariance(n: int, q_star: float, c_star: float) -> np.ndarray:
    """[T17] Sigma* = q* [(1 - c*) I + c* 1 1^T], shape (n, n)."""
    return q_star * ((1.0 - c_star) * np.eye(n) + c_star * np.ones((n, n)))


def _check_v1d(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or v.size % 2 == 0:
        raise SpectraError(
            f"the covariance map needs a 1D variance vector of odd length, got {v.shape}"
        )
    if np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
        raise SpectraError("variance vector must be non-negative and sum to 1")
    return v


def covariance_map(sigma, v, sigma_w: float, sigma_b: float, activation="tanh") -> np.ndarray:
    """One step of [T17] on 1D images: Sigma (n, n) -> A_v * C(Sigma), shape (n, n).

    Each entry of C is a 2D Gaussian integral on the 481 x 481 [T13] trapezoid rule
    (1D on the diagonal), so Sigma* is reproduced to rounding.
    """
    from ._maps import _check_ws

    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    act = get_activation(activation)
    v = _check_v1d(v)
    s = np.asarray(sigma, dtype=np.float64)
    n = s.shape[0]
    if s.shape != (n, n) or not np.allclose(s, s.T, rtol=0, atol=1e-14 * np.abs(s).max()):
        raise SpectraError(f"Sigma must be a symmetric (n, n) matrix, got shape {s.shape}")
    z, w = gauss_nodes()
    d = np.diag(s).copy()
    if np.any(d <= 0):
        raise SpectraError("Sigma must have a positive diagonal")
    sd = np.sqrt(d)
    phi1 = act.phi(sd[:, None] * z[None, :])  # (n, 481): phi(sqrt(S_aa) z)
    c = np.empty((n, n))
    c[np.diag_indices(n)] = (phi1**2) @ w
    wz = phi1 * w  # weights folded in, indexed by z1
    for a in range(n):
        for b in range(a + 1, n):
            rho = min(max(s[a, b] / (sd[a] * sd[b]), -1.0), 1.0)
            u2 = sd[b] * (rho * z[:, None] + math.sqrt(1.0 - rho * rho) * z[None, :])
            c[a, b] = c[b, a] = wz[a] @ (act.phi(u2) @ w)
    c = sigma_w**2 * c + sigma_b**2
    r = v.size // 2
    out = np.zeros_like(c)
    for i, vb in enumerate(v):
        beta = i - r
        if vb:
            out += vb * np.roll(c, shift=(-beta, -beta), axis=(0, 1))  # C[a+beta, a'+beta]
    return out


def iterate_covariance_map(
    sigma0,
    depth: int,
    v,
    sigma_w: float,
    sigma_b: float,
    activation="tanh",
    *,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Sigma^0 .. Sigma^depth under [T17], shape (depth + 1, n, n)."""
    out = [np.asarray(sigma0, dtype=np.float64)]
    for _ in range(int(depth)):
        out.append(covariance_map(out[-1], v, sigma_w, sigma_b, activation))
        if progress:
            progress(1)
    return np.stack(out)


def first_diagonal_modes(eps: np.ndarray) -> np.ndarray:
    """DFT over a of the first cyclic diagonal eps[..., a, a+1]: shape (..., n), complex.

    Convention hat e(m) = sum_a e_a exp(-2 pi i m a / n) (numpy's fft).
    """
    eps = np.asarray(eps)
    n = eps.shape[-1]
    a = np.arange(n)
    return np.fft.fft(eps[..., a, (a + 1) % n], axis=-1)


def appendix_f_perturbation(n: int = 10, profile=None) -> np.ndarray:
    """epsilon^0 of the paper's Appendix F: zero except the first cyclic diagonal (and its
    mirror), whose DFT is ``profile``; default -1/6 [1, r, r^3, r^5, r^4, r^2, r^4, r^5,
    r^3, r] with r = 2/3 (n = 10). Shape (n, n), symmetric, real."""
    if profile is None:
        if n != 10:
            raise SpectraError("the paper's Appendix F profile is defined for n = 10")
        r = 2.0 / 3.0
        profile = -np.array([1, r, r**3, r**5, r**4, r**2, r**4, r**5, r**3, r]) / 6.0
    prof = np.asarray(profile, dtype=complex)
    if prof.shape != (n,):
        raise SpectraError(f"profile must have {n} entries")
    e = np.fft.ifft(prof)
    if np.abs(e.imag).max() > 1e-12:
        raise SpectraError("profile must be Hermitian (p[m] = conj p[n-m]) for a real diagonal")
    a = np.arange(n)
    eps = np.zeros((n, n))
    eps[a, (a + 1) % n] = e.real
    eps[(a + 1) % n, a] = e.real
    return eps


def ensemble_first_diagonal(
    sigma0,
    sigma_ref,
    depth: int,
    v,
    sigma_w: float,
    sigma_b: float,
    activation="tanh",
    *,
    channels: int = 256,
    networks: int = 16,
    samples: int = 16,
    generator=None,
    device: str = "cpu",
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Finite-width estimate of the first-diagonal modes of epsilon^l = Sigma_ref^l - Sigma^l.

    ``networks`` independent 1D circular CNNs (width ``channels``, kernel len(v), weights
    N(0, sigma_w^2 v_beta / channels), biases N(0, sigma_b^2), float64; [T1]-[T3]) run as
    batched matrix products, ``chunk`` networks at a time. Each network gets ``samples``
    inputs h^0 = L0 g and, coupled, L_ref g (L = Cholesky factors of sigma0, sigma_ref;
    g ~ N(0, I) per channel and sample). Per network and depth, the covariances over
    channels and samples are differenced and the first cyclic diagonal Fourier transformed.
    At depth l >= 1 the covariance is Rao-Blackwellised over layer l's own weights and
    biases (its exact conditional mean given x^{l-1}: A_v * (sigma_w^2 G + sigma_b^2) with
    G the empirical Gram of x^{l-1}) -- unbiased, with less variance. ``generator`` must
    live on ``device``. ``progress`` is called with 1 per layer per chunk.

    Returns ``{"mean": (depth+1, n) complex, "stderr": (depth+1, n) (of the real part,
    across networks), "per_network": (networks, depth+1, n) complex}``.
    """
    import torch

    from ..activations import get_activation
    from ._maps import _check_ws

    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    v = _check_v1d(v)
    for name, val in (("channels", channels), ("networks", networks), ("samples", samples)):
        if int(val) != val or val < 2:
            raise SpectraError(f"{name} must be an integer >= 2, got {val!r}")
    act = get_activation(activation)
    dt = torch.float64
    dev = torch.device(device)
    gen = generator if generator is not None else torch.Generator(device=dev).manual_seed(0)
    s0 = np.asarray(sigma0, dtype=np.float64)
    sr = np.asarray(sigma_ref, dtype=np.float64)
    n = s0.shape[0]
    c, S, k = int(channels), int(samples), v.size
    r = k // 2
    l2 = torch.stack(
        [torch.as_tensor(np.linalg.cholesky(m), dtype=dt, device=dev) for m in (s0, sr)]
    )  # (2, n, n)
    std = torch.as_tensor(sigma_w * np.sqrt(v / c), dtype=dt, device=dev)  # (k,)
    vt = torch.as_tensor(v, dtype=dt, device=dev)
    a = torch.arange(n)

    def diag_modes(cov):  # cov (Nc, 2, n, n) -> (Nc, n) modes of ref - perturbed
        diff = (cov[:, 1] - cov[:, 0]).cpu().numpy()
        return np.fft.fft(diff[:, a, (a + 1) % n], axis=-1)

    def gram(t):  # t (Nc, 2, S, c, n) -> (Nc, 2, n, n), mean over samples and channels
        return torch.einsum("ntsca,ntscb->ntab", t, t) / (S * c)

    per = []
    total = int(networks)
    for start in range(0, total, int(chunk)):
        nc = min(int(chunk), total - start)
        g = torch.randn(nc, 1, S, c, n, generator=gen, dtype=dt, device=dev)
        h = g @ l2.transpose(-1, -2)[None, :, None]  # (nc, 2, S, c, n): rows ~ N(0, Sigma)
        out = [diag_modes(gram(h))]
        for _ in range(int(depth)):
            x = act.torch_phi(h)
            cm = sigma_w**2 * gram(x) + sigma_b**2
            cov = sum(
                vt[i] * torch.roll(cm, shifts=(r - i, r - i), dims=(-2, -1)) for i in range(k)
            )
            out.append(diag_modes(cov))
            # next layer: h(a) = sum_beta W(beta) x(a + beta) + b, as one batched matmul
            taps = torch.stack([torch.roll(x, shifts=r - i, dims=-1) for i in range(k)], dim=-2)
            xt = taps.permute(0, 1, 2, 5, 3, 4).reshape(nc, 2 * S * n, c * k)
            w = torch.randn(nc, c, c, k, generator=gen, dtype=dt, device=dev) * std
            b = torch.randn(nc, 1, 1, c, 1, generator=gen, dtype=dt, device=dev) * sigma_b
            hn = xt @ w.reshape(nc, c, c * k).transpose(1, 2)  # (nc, 2 S n, c)
            h = hn.reshape(nc, 2, S, n, c).transpose(-1, -2) + b
            if progress:
                progress(1)
        per.append(np.stack(out, axis=1))
    per = np.concatenate(per, axis=0)  # (N, depth+1, n)
    mean = per.mean(axis=0)
    se = per.real.std(axis=0, ddof=1) / math.sqrt(per.shape[0])
    return {"mean": mean, "stderr": se, "per_network": per}


def fit_decay_rate(depth, coef, stderr=None, *, snr: float = 5.0, start: int = 1) -> dict:
    """Fit |coef_l| ~ A r^l by weighted least squares of log|coef| on l.

    Window: l from ``start`` up to the last depth before |coef| first drops below
    ``snr`` standard errors (all depths if ``stderr`` is None). Weights (|coef|/stderr)^2
    (the delta-method variance of log|coef|). Returns ``rate`` r, ``rate_stderr``
    (delta method, from the WLS slope s.e.), ``window_start``, ``window_end``, ``points``.
    """
    depth = np.asarray(depth, dtype=np.float64)
    y = np.abs(np.asarray(coef))
    se = None if stderr is None else np.asarray(stderr, dtype=np.float64)
    sel = depth >= start
    if se is not None:
        bad = np.nonzero(sel & (y < snr * se))[0]
        if bad.size:
            sel &= np.arange(depth.size) < bad[0]
    sel &= y > 0
    if sel.sum() < 3:
        return {
            "rate": np.nan,
            "rate_stderr": np.nan,
            "window_start": np.nan,
            "window_end": np.nan,
            "points": int(sel.sum()),
        }
    x, ly = depth[sel], np.log(y[sel])
    wts = np.ones_like(x) if se is None else (y[sel] / np.maximum(se[sel], 1e-300)) ** 2
    xm = np.sum(wts * x) / wts.sum()
    ym = np.sum(wts * ly) / wts.sum()
    sxx = np.sum(wts * (x - xm) ** 2)
    slope = np.sum(wts * (x - xm) * (ly - ym)) / sxx
    if se is None:
        resid = ly - (ym + slope * (x - xm))
        slope_se = math.sqrt(np.sum(resid**2) / max(x.size - 2, 1) / sxx)
    else:
        slope_se = math.sqrt(1.0 / sxx)
    rate = math.exp(slope)
    return {
        "rate": rate,
        "rate_stderr": rate * slope_se,
        "window_start": int(x[0]),
        "window_end": int(x[-1]),
        "points": int(x.size),
    }
