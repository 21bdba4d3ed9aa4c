"""Weight initializers for circular convolutions and dense layers.

Convolution kernels use torch layout ``(c_out, c_in) + (k,)*d`` with d = 1, 2 or 3 spatial
axes, tap ``a`` at spatial offset ``a - r``, ``r = (k - 1) // 2`` (the theory page [T2]; for
even k this is the origin of TF's and torch's ``'same'`` padding, one more tap after the
origin than before it). A conv layer is the circular cross-correlation of [T1]; its
operator is [T5].

Conv inits (:data:`INIT_NAMES`):

- ``gaussian``: taps i.i.d. N(0, sigma_w^2 v_beta / c_in) with the uniform spatial variance
  vector v = 1/k^d ([T3]).
- ``gs0`` ... ``gs4``: the same with the GS family v^(t) = (1 - t) e_0 + t v_unif, t = j/4,
  so gs0 is the delta vector and gs4 the uniform one ([T4], our documented choice: the
  paper does not give the interpolation).
- ``orth``: Algorithm 1 ([T8]): a Haar-orthogonal c_out x c_in tap combined k - 1 times by
  block convolution with random symmetric projections. The circular operator of the
  result is exactly sigma_w times an isometry for every spatial size n >= 1, and its
  weight is spread over the taps with the binomial profile
  E||K(a,b)||_F^2 / c_in = C(k-1, a) C(k-1, b) 4^(1-k) (1D: C(k-1, a) 2^(1-k)); this is
  exact in expectation because E[P] = I/2 and P(I - P) = 0 kill every cross term.
- ``delta-orth``: Algorithm 2 ([T9]): only the origin tap, sigma_w times a Haar-orthogonal
  c_out x c_in matrix. Its spatial shape may be rectangular (``k`` a tuple).

For the two orthogonal inits sigma_w may be negative (a sign, as TF's ``gain``): the
operator is then |sigma_w| times an isometry.

Dense inits (:data:`DENSE_INIT_NAMES`): ``dense-gaussian`` (entries N(0, sigma_w^2/n_in)),
``dense-orth`` (sigma_w times a Haar matrix with orthonormal columns, or rows when
n_in > n_out).

Randomness comes from a ``torch.Generator`` (or an int seed); samples are drawn in float64
on the generator's device and then cast, so float32 and float64 kernels from the same
seed agree to float32 rounding.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch

from ..errors import SpectraError, check_choice, check_int, check_real

#: Gaussian conv inits: ``gaussian`` (uniform) and the GS family gs0 (delta) .. gs4 (uniform).
GAUSSIAN_INIT_NAMES: tuple[str, ...] = ("gaussian", "gs0", "gs1", "gs2", "gs3", "gs4")
#: Every conv init accepted by :func:`conv_kernel`.
INIT_NAMES: tuple[str, ...] = ("gaussian", "orth", "delta-orth", "gs0", "gs1", "gs2", "gs3", "gs4")
#: Dense inits accepted by :func:`dense_weight`.
DENSE_INIT_NAMES: tuple[str, ...] = ("dense-gaussian", "dense-orth")

GeneratorLike = torch.Generator | int | None


# --------------------------------------------------------------------------- validation
def _as_generator(generator: GeneratorLike) -> torch.Generator | None:
    """An int becomes a fresh CPU generator seeded with it; None means torch's global RNG."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        g = torch.Generator()
        g.manual_seed(int(generator))
        return g
    raise SpectraError(
        f"generator must be a torch.Generator, an int seed or None, got {generator!r}"
    )


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _check_kernel_size(k: object) -> int:
    return check_int("kernel size k", k, 1)


def _check_dim(dim: object) -> int:
    if dim not in (1, 2, 3) or isinstance(dim, bool):
        raise SpectraError(f"dim must be 1, 2 or 3, got {dim!r}")
    return int(dim)


def _check_shape(k: object, dim: int) -> tuple[int, ...]:
    """The spatial shape ``(k,)*dim`` of an int k, or a tuple of dim sizes >= 1."""
    if isinstance(k, (tuple, list)):
        if len(k) != dim:
            raise SpectraError(f"kernel shape {tuple(k)} must have {dim} entries (dim={dim})")
        return tuple(check_int("kernel size k", x, 1) for x in k)
    return (_check_kernel_size(k),) * dim


def _origin(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Index of the tap at offset 0 on each axis: (k - 1) // 2 ('same' padding, [T2])."""
    return tuple((k - 1) // 2 for k in shape)


@contextmanager
def small_linalg_threads():
    """Run the small linear algebra of a kernel draw (QRs and GEMMs of c x c matrices) on
    one torch thread, restoring the previous count after. With torch's default pool such
    products oversubscribe a loaded machine: a c = 256 Algorithm-1 draw measured up to 30x
    slower at load 7 than on one thread (benchmarks/kernel_draw.py)."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- primitives
def _haar(n: int, g: torch.Generator | None, cols: int | None = None) -> torch.Tensor:
    """The first ``cols`` (default n) columns of a Haar ``(n, n)`` matrix, float64, on the
    generator's device: reduced QR of an n x cols Gaussian matrix with column i multiplied
    by sign(R_ii) (pitfall 3; Gram–Schmidt of the first columns of the full Gaussian
    matrix gives exactly these columns). All linear algebra stays in torch so it shares
    torch's thread pool (mixing in numpy's BLAS pool makes the two fight for the cores)."""
    m = n if cols is None else cols
    a = torch.randn(n, m, generator=g, dtype=torch.float64, device=_gen_device(g))
    q, r = torch.linalg.qr(a)
    d = torch.sign(torch.diagonal(r))
    return q * torch.where(d == 0, torch.ones_like(d), d)


def _projection(n: int, g: torch.Generator | None) -> torch.Tensor:
    """V V^T with V the first rho columns of a Haar matrix, rho ~ Bin(n, 1/2) ([T8] step 3):
    the orthogonal projection onto a uniformly random rho-dimensional subspace."""
    coins = torch.rand(n, generator=g, dtype=torch.float64, device=_gen_device(g))
    rho = int((coins < 0.5).sum())
    if rho == 0:
        return torch.zeros(n, n, dtype=torch.float64, device=_gen_device(g))
    v = _haar(n, g, rho)
    return v @ v.T


def haar_orthogonal(
    n: int, *, generator: GeneratorLike = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """A Haar-distributed orthogonal ``(n, n)`` matrix (the theory page [T8] step 1).

    QR of an n x n standard Gaussian matrix, with column i multiplied by sign(R_ii) so
    that the law is exactly Haar (pitfall 3). Drawn in float64, returned in ``dtype`` on
    the generator's device.
    """
    n = check_int("n", n, 1)
    g = _as_generator(generator)
    with small_linalg_threads():
        return _haar(n, g).to(dtype)


def random_projection(
    n: int, *, generator: GeneratorLike = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """A random symmetric projection ``P = U_{:, :rho} U_{:, :rho}^T`` of shape ``(n, n)``.

    U is Haar and rho ~ Bin(n, 1/2), as in the paper's TensorFlow code ([T8] step 3);
    so E[P] = I/2. P = P^T = P^2 up to rounding.
    """
    n = check_int("n", n, 1)
    g = _as_generator(generator)
    with small_linalg_threads():
        return _projection(n, g).to(dtype)


# --------------------------------------------------------------------------- variance vectors
def _binomial_profile(k: int) -> np.ndarray:
    w = np.array([math.comb(k - 1, a) for a in range(k)], dtype=np.float64)
    return w / w.sum()


def variance_vector(init: str, k: int, dim: int = 2) -> np.ndarray:
    """The spatial variance vector v of an init: shape ``(k,)*dim``, v >= 0, sum 1.

    ``gaussian``/``gs4`` uniform 1/k^d; ``gs0``/``delta-orth`` the origin tap e_0
    (index (k - 1) // 2 per axis);
    ``gs1``..``gs3`` the interpolation (1 - t) e_0 + t v_unif with t = j/4 ([T3], [T4]);
    ``orth`` the expected share of squared weight per tap of Algorithm 1, the binomial
    profile C(k-1, a) C(k-1, b) 4^(1-k) ([T8]).
    """
    init = check_choice("conv init", init, INIT_NAMES)
    k = _check_kernel_size(k)
    dim = _check_dim(dim)
    shape = (k,) * dim
    if init == "orth":
        p = _binomial_profile(k)
        return np.einsum(",".join("abc"[:dim]) + "->" + "abc"[:dim], *([p] * dim))
    delta = np.zeros(shape)
    delta[_origin(shape)] = 1.0
    if init == "delta-orth":
        return delta
    t = 1.0 if init == "gaussian" else int(init[2:]) / 4.0
    return (1.0 - t) * delta + t * np.full(shape, 1.0 / k**dim)


def _as_variance(variance: str | np.ndarray | torch.Tensor | None, k: int, dim: int) -> np.ndarray:
    """Resolve a variance spec (None = uniform, an init name, or an array) to ``(k,)*dim``."""
    if variance is None:
        return variance_vector("gaussian", k, dim)
    if isinstance(variance, str):
        return variance_vector(variance, k, dim)
    v = np.asarray(variance.detach().cpu() if torch.is_tensor(variance) else variance, float)
    if v.shape != (k,) * dim:
        raise SpectraError(f"variance vector must have shape {(k,) * dim}, got {v.shape}")
    if not np.all(np.isfinite(v)) or np.any(v < 0) or abs(v.sum() - 1.0) > 1e-9:
        raise SpectraError("variance vector must be non-negative and sum to 1")
    return v


# --------------------------------------------------------------------------- conv kernels
def _gaussian_kernel(c_out, c_in, v, sigma_w, g) -> torch.Tensor:
    """Taps N(0, sigma_w^2 v_beta / c_in) in float64 ([T3])."""
    std = torch.as_tensor(np.sqrt(v) * sigma_w / math.sqrt(c_in), device=_gen_device(g))
    z = torch.randn((c_out, c_in, *v.shape), generator=g, dtype=torch.float64, device=std.device)
    return z * std


def _shift_factor(kern: torch.Tensor, p: torch.Tensor, axis: int) -> torch.Tensor:
    """Block-convolve ``kern`` (layout ``(c_out, *spatial, c_in)``) with the 2-tap factor
    P + (I - P) z along spatial ``axis``: new(γ) = P K(γ) + (I - P) K(γ - e) =
    K(γ - e) + P (K(γ) - K(γ - e)). One GEMM; the spatial size grows by 1 along ``axis``."""
    dim = 1 + axis
    pad = list(kern.shape)
    pad[dim] = 1
    zero = kern.new_zeros(pad)
    here, shifted = torch.cat([kern, zero], dim=dim), torch.cat([zero, kern], dim=dim)
    diff = (here - shifted).reshape(kern.shape[0], -1)
    return shifted + (p @ diff).reshape(shifted.shape)


def _orth_draw(c_out: int, k: int, dim: int, g):
    """The random draws of Algorithm 1 ([T8]), float64: ``h0`` (c_out, c_out) Haar (sign-
    fixed), ``u`` (nproj, c_out, c_out) orthogonal bases, ``rho`` (nproj,) ranks
    ~ Bin(c_out, 1/2), nproj = (k - 1) * dim; projection j is U_j[:, :rho_j] U_j[:, :rho_j]^T.
    Three batched calls: Gaussian matrices (one batched QR gives H0 and the U), coins."""
    nproj = (k - 1) * dim
    dev = _gen_device(g)
    gauss = torch.randn(1 + nproj, c_out, c_out, generator=g, dtype=torch.float64, device=dev)
    coins = torch.rand(nproj, c_out, generator=g, dtype=torch.float64, device=dev)
    q, r = torch.linalg.qr(gauss)
    d = torch.sign(torch.diagonal(r[0]))
    h0 = q[0] * torch.where(d == 0, torch.ones_like(d), d)
    return h0, q[1:], (coins < 0.5).sum(dim=1)


def _orth_order(k: int, dim: int) -> list[tuple[int, int]]:
    """(projection index, axis) of Algorithm 1's factors in the order they are applied.

    Within a step the factor of axis 0 acts first, then axis 1 (then axis 2): in column
    layout TF's block B = P(a) Q(b) (row vectors, x -> x B) is B^T = Q(b) P(a), so its P
    factor, on the first spatial axis, is the right one ([T8]). The other order draws the
    law of TF's kernels with the spatial axes swapped."""
    return [(step * dim + axis, axis) for step in range(k - 1) for axis in range(dim)]


def _orth_taps(c_out: int, c_in: int, k: int, dim: int, g) -> torch.Tensor:
    """Algorithm 1 ([T8]) in float64: weight of shape ``(c_out, c_in) + (k,)*dim``.

    K = H0 (first c_in columns of a Haar matrix), then k - 1 times K <- B_{P,Q} □ K with
    the symbol (Q + (I - Q) z_2)(P + (I - P) z_1) (1D: P + (I - P) z; 3D a third factor
    on the left), each factor applied as one GEMM by :func:`_shift_factor`. Any k >= 1.
    A projection only depends on the span of U's first rho columns, which is uniform
    without the QR sign fix; H0 gets the fix. The
    same draws in factored form: :func:`spectra.factored.orth_kernel_factored`.
    """
    return _orth_dense(*_orth_draw(c_out, k, dim, g), c_in, k, dim)


def _orth_dense(h0, u, rho, c_in: int, k: int, dim: int) -> torch.Tensor:
    """The dense Algorithm-1 kernel from the draws of :func:`_orth_draw`."""
    c_out = h0.shape[0]
    kern = h0[:, :c_in].reshape((c_out,) + (1,) * dim + (c_in,))
    if len(rho):
        mask = (torch.arange(c_out, device=u.device) < rho[:, None]).to(torch.float64)
        proj = (u * mask[:, None, :]) @ u.transpose(1, 2)  # U diag(mask) U^T, (nproj, c, c)
        for j, axis in _orth_order(k, dim):  # B = (Q-factor on axis 1)(P-factor on axis 0)
            kern = _shift_factor(kern, proj[j], axis)
    return torch.movedim(kern, -1, 1)


def conv_kernel(
    init: str,
    c_out: int,
    c_in: int,
    k: int | tuple[int, ...],
    *,
    dim: int = 2,
    sigma_w: float = 1.0,
    generator: GeneratorLike = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A random conv kernel of shape ``(c_out, c_in) + (k,)*dim`` (torch layout, [T2]).

    ``init`` is one of :data:`INIT_NAMES`; ``dim`` is 1, 2 or 3; any k >= 1 (even k: tap
    origin (k - 1) // 2, as 'same' padding). Gaussian inits have tap variance
    sigma_w^2 v_beta / c_in ([T3], [T4]). ``orth`` ([T8]) and ``delta-orth`` ([T9]) are
    scaled by sigma_w itself (any sign) and need c_in <= c_out; their circular operator
    satisfies M^T M = sigma_w^2 I for every spatial size. ``delta-orth`` also takes a
    tuple ``k`` (a rectangular kernel). Returned on the generator's device (CPU when
    ``generator`` is None or an int).
    """
    init = check_choice("conv init", init, INIT_NAMES)
    c_out = check_int("c_out (output channels)", c_out, 1)
    c_in = check_int("c_in (input channels)", c_in, 1)
    dim = _check_dim(dim)
    shape = _check_shape(k, dim) if init == "delta-orth" else (_check_kernel_size(k),) * dim
    orthogonal = init in ("orth", "delta-orth")
    sigma_w = check_real("sigma_w", sigma_w, nonneg=not orthogonal)
    if orthogonal and c_in > c_out:
        raise SpectraError(f"{init} init needs c_in <= c_out, got c_in={c_in} > c_out={c_out}")
    g = _as_generator(generator)
    with small_linalg_threads():
        if init == "orth":
            w = _orth_taps(c_out, c_in, shape[0], dim, g) * sigma_w
        elif init == "delta-orth":
            h0 = _haar(c_out, g, c_in)
            w = h0.new_zeros((c_out, c_in) + shape)
            w[(slice(None), slice(None)) + _origin(shape)] = sigma_w * h0
        else:
            w = _gaussian_kernel(c_out, c_in, variance_vector(init, shape[0], dim), sigma_w, g)
    return w.to(dtype=dtype, device=_gen_device(g)).contiguous()


# --------------------------------------------------------------------------- dense
def dense_weight(
    init: str,
    n_out: int,
    n_in: int,
    *,
    sigma_w: float = 1.0,
    generator: GeneratorLike = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A dense ``(n_out, n_in)`` weight (torch ``nn.Linear`` layout).

    ``dense-gaussian``: entries N(0, sigma_w^2 / n_in) ([T27]). ``dense-orth``: sigma_w
    times the first n_in columns of a Haar matrix (orthonormal columns); when n_in > n_out,
    the transpose of the first n_out columns of an n_in x n_in Haar matrix (orthonormal
    rows). The names ``gaussian`` and ``orth`` are accepted as aliases.
    """
    init = {"gaussian": "dense-gaussian", "orth": "dense-orth"}.get(init, init)
    init = check_choice("dense init", init, DENSE_INIT_NAMES)
    n_out = check_int("n_out", n_out, 1)
    n_in = check_int("n_in", n_in, 1)
    sigma_w = check_real("sigma_w", sigma_w, nonneg=True)
    g = _as_generator(generator)
    if init == "dense-gaussian":
        z = torch.randn(n_out, n_in, generator=g, dtype=torch.float64, device=_gen_device(g))
        w = z * (sigma_w / math.sqrt(n_in))
    elif n_in <= n_out:
        w = sigma_w * _haar(n_out, g, n_in)
    else:
        w = sigma_w * _haar(n_in, g, n_out).T
    return w.to(dtype=dtype, device=_gen_device(g)).contiguous()


# --------------------------------------------------------------------------- nn.init-style
def _weight_geometry(weight: torch.Tensor, square: bool = True):
    """(c_out, c_in, k, dim) of a Conv1d/2d/3d weight (k the spatial shape when not
    ``square``); one-line error otherwise."""
    if not torch.is_tensor(weight) or weight.dim() not in (3, 4, 5):
        shape = tuple(weight.shape) if torch.is_tensor(weight) else type(weight).__name__
        raise SpectraError(f"expected a Conv1d/Conv2d/Conv3d weight (3-5 dims), got {shape}")
    c_out, c_in, *spatial = weight.shape
    if square and len(set(spatial)) != 1:
        raise SpectraError(f"kernel must be square, got spatial shape {tuple(spatial)}")
    return c_out, c_in, (spatial[0] if square else tuple(spatial)), weight.dim() - 2


def _fill(weight: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        weight.copy_(values.to(device=weight.device, dtype=weight.dtype))
    return weight


def orthogonal_conv_(
    weight: torch.Tensor, gain: float = 1.0, generator: GeneratorLike = None
) -> torch.Tensor:
    """Fill a Conv1d/Conv2d ``weight`` in place with an Algorithm-1 kernel times ``gain``.

    With circular 'same' padding (``padding='same', padding_mode='circular'``, or
    ``padding=r`` for odd k) the layer is then exactly |gain| times an isometry ([T8]);
    gain may be negative. Needs in_channels <= out_channels and a square (cubic) kernel,
    any k >= 1, 1D to 3D. Any dtype/device; runs under ``torch.no_grad``. Returns ``weight``.
    """
    c_out, c_in, k, dim = _weight_geometry(weight)
    w = conv_kernel("orth", c_out, c_in, k, dim=dim, sigma_w=gain, generator=generator)
    return _fill(weight, w)


def delta_orthogonal_(
    weight: torch.Tensor, gain: float = 1.0, generator: GeneratorLike = None
) -> torch.Tensor:
    """Fill a Conv1d/2d/3d ``weight`` in place with a delta-orthogonal kernel ([T9]):
    gain (any sign) times a Haar c_out x c_in matrix at the origin tap, index (k - 1) // 2
    per axis; any spatial shape, rectangular included."""
    c_out, c_in, k, dim = _weight_geometry(weight, square=False)
    w = conv_kernel("delta-orth", c_out, c_in, k, dim=dim, sigma_w=gain, generator=generator)
    return _fill(weight, w)


def gaussian_conv_(
    weight: torch.Tensor,
    gain: float = 1.0,
    variance: str | np.ndarray | torch.Tensor | None = None,
    generator: GeneratorLike = None,
) -> torch.Tensor:
    """Fill a Conv1d/2d/3d ``weight`` in place with taps N(0, gain^2 v_beta / c_in).

    ``variance`` is None (uniform), an init name (``"gs2"``, ``"delta-orth"``, ...; see
    :func:`variance_vector`) or an explicit non-negative array of shape ``(k,)*dim``
    summing to 1 ([T3], [T4]).
    """
    c_out, c_in, k, dim = _weight_geometry(weight)
    v = _as_variance(variance, k, dim)
    g = _as_generator(generator)
    return _fill(weight, _gaussian_kernel(c_out, c_in, v, check_real("gain", gain, nonneg=True), g))
