"""Exact singular values of long, ill-conditioned products in the log domain (theory [T24]).

For ``J = A_L ... A_1`` (here ``A_l = D^l W^l``, [T21]) the discrete-QR method sets
``Q_0 = I`` and factors ``A_l Q_{l-1} = Q_l R_l`` with ``diag R_l > 0``; then
``sv J = sv(R_L ... R_1)`` exactly. The triangular product is kept as
``diag(e^ell) C`` with ``C`` unit upper-triangular:
``C <- diag(e^-ell) U_l diag(e^ell) C`` and ``ell += log diag R_l`` with
``U_l = diag(R_l)^-1 R_l``. A Jacobi SVD with high relative accuracy (LAPACK ``dgejsv``)
of ``C^T diag(e^(ell - max ell))`` finishes the job; nothing is ever exponentiated to a
value that could overflow, so ``log sigma`` is right even where ``sigma`` itself is not a
float64 (beyond ~700 nats).

Two practical refinements, both exact in exact arithmetic:

- *Grouped QR.* Between re-orthogonalisations we may apply several layers to Q (one QR
  per group). The group length adapts so that the log-spread of ``diag R`` within a group
  stays below ``max_group_spread`` nats (so the group's product is well conditioned and
  the QR keeps full float64 accuracy); ``group=1`` is the textbook per-layer method.
- *Huge spreads.* When ``max ell - min ell`` exceeds what ``dgejsv`` can see in one
  float64 scaling (``_JSV_SPREAD`` nats; ``e^-745`` underflows to 0), the triangular
  factor is first driven towards diagonal form by log-domain QR sweeps
  ``diag(e^ell) C -> R(C^T diag(e^ell))`` (the unshifted QR algorithm on a graded matrix,
  which damps ``C_ij`` like ``(sigma_j/sigma_i)^sweeps``), each again kept as
  ``(ell, C)``. Nearly equal singular values never decouple (and need not): after the
  sweeps, the entries ``|C_ij| <= _DECOUPLED`` are dropped, which splits the indices into
  coupled components (connected components of the remaining pattern); once every
  component spans at most ``_JSV_SPREAD`` nats, each is finished by its own dgejsv (a
  singleton ``i`` is exactly ``e^ell_i``). Dropping ``dC`` perturbs ``X = diag(e^ell) C``
  to ``X_0 (I + C_0^-1 dC)``, so every singular value moves by at most the relative
  ``||C_0^-1||_2 ||dC||_F`` (Eisenstat--Ipsen), whatever the grading; that bound is
  computed and kept below ``_DEFLATION_TOL``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import lapack

#: Largest log-spread handed to one dgejsv call (e^-600 is far above float64 underflow).
_JSV_SPREAD = 600.0
#: Entries |C_ij| (i != j) at or below this are dropped when splitting into components.
_DECOUPLED = 1e-20
#: Largest relative error bound ||C_0^-1|| ||dC||_F accepted for the dropped entries.
_DEFLATION_TOL = 1e-13


def qr_positive(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Householder QR ``a = Q R`` with ``diag R >= 0`` (columns of Q flipped to match)."""
    q, r = torch.linalg.qr(a)
    s = torch.sign(torch.diagonal(r))
    s = torch.where(s == 0, torch.ones_like(s), s)
    return q * s, r * s[:, None]


class LogTriangular:
    """The running product ``R_L ... R_1 = diag(e^ell) C`` of [T24] (float64).

    ``ell``: (N,) log scales; ``C``: (N, N) unit upper-triangular.
    """

    def __init__(self, n: int, device=None) -> None:
        self.ell = torch.zeros(n, dtype=torch.float64, device=device)
        self.C = torch.eye(n, dtype=torch.float64, device=device)

    def absorb(self, r: torch.Tensor) -> None:
        """Left-multiply by the upper-triangular ``r`` (positive diagonal) [T24]."""
        d = torch.diagonal(r)
        log_d = torch.log(d)
        u = r / d[:, None]  # unit upper triangular
        # (diag(e^-ell) U diag(e^ell))_ij = U_ij e^(ell_j - ell_i); only i <= j is non-zero
        g = self.ell[None, :] - self.ell[:, None]
        g = torch.triu(g).clamp(max=700.0)  # below the diagonal U is 0; avoid inf * 0
        self.C = (u * torch.exp(g)) @ self.C
        self.ell = self.ell + log_d

    @property
    def spread(self) -> float:
        return float(self.ell.max() - self.ell.min())


def _dgejsv_values(a: np.ndarray) -> np.ndarray:
    """Singular values of ``a`` by LAPACK dgejsv (Jacobi, high relative accuracy)."""
    # joba=0 ('C': high relative accuracy for A = B D with B well conditioned, whatever
    # the column scaling D -- exactly our C^T diag(e^ell); 'A' truncates the numerical
    # rank and returned zeros here), jobu=jobv=3 (no vectors), jobr=0 ('N': no range
    # restriction), jobt=1 ('N'), jobp=1 ('N': no perturbation of tiny entries)
    sva, _, _, work, _, info = lapack.dgejsv(
        np.asfortranarray(a), joba=0, jobu=3, jobv=3, jobr=0, jobt=1, jobp=1
    )
    if info != 0:
        raise RuntimeError(f"dgejsv failed with info={info}")
    return sva * (work[0] / work[1])


def _qr_sweep(lt: LogTriangular) -> LogTriangular:
    """One log-domain QR step: ``X = diag(e^ell) C`` -> ``R`` of ``X^T = C^T diag(e^ell)``.

    ``X^T`` is the product of ``diag(e^ell)`` (QR trivial) and ``C^T``; by [T24] the
    singular values of ``X`` are those of ``R(C^T) diag(e^ell)``.
    """
    _, r = qr_positive(lt.C.T)
    out = LogTriangular(0, device=lt.C.device)
    out.ell = lt.ell.clone()
    out.C = torch.eye(lt.C.shape[0], dtype=torch.float64, device=lt.C.device)
    out.absorb(r)
    return out


def _components(c: np.ndarray, tol: float) -> list[np.ndarray]:
    """Index sets of the connected components of the pattern ``|c_ij| > tol`` (i != j)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    adj = np.abs(np.triu(c, 1)) > tol
    if not adj.any():
        return [np.array([i]) for i in range(c.shape[0])]
    _, labels = connected_components(csr_matrix(adj), directed=False)
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


def _deflation_bound(c: np.ndarray, blocks: list[np.ndarray]) -> float:
    """Relative bound ``||C_0^-1||_2 ||C - C_0||_F`` for dropping all entries of ``c``
    outside the diagonal blocks ``blocks`` (``C_0``: the block part)."""
    kept = np.zeros(c.shape, dtype=bool)
    inv_norm = 1.0
    for b in blocks:
        kept[np.ix_(b, b)] = True
        if b.size > 1:
            smin = np.linalg.svd(c[np.ix_(b, b)], compute_uv=False)[-1]
            inv_norm = max(inv_norm, 1.0 / smin if smin > 0 else math.inf)
    return float(inv_norm * np.linalg.norm(np.where(kept, 0.0, c)))


def _block_log_values(ell: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log sv of ``diag(e^ell) c`` by one dgejsv of ``c^T diag(e^(ell - max ell))``."""
    if ell.size == 1:
        return ell.copy()  # c is the 1 x 1 unit diagonal
    top = float(ell.max())
    with np.errstate(divide="ignore"):
        return np.log(_dgejsv_values(c.T * np.exp(ell - top)[None, :])) + top


def jacobi_log_singular_values(
    lt: LogTriangular, *, max_sweeps: int = 500, info: dict | None = None
) -> np.ndarray:
    """Natural logs of the singular values of ``diag(e^ell) C``, sorted descending.

    Spread <= ``_JSV_SPREAD`` nats: one dgejsv of ``C^T diag(e^(ell - max ell))`` [T24].
    Larger spreads: log-domain QR sweeps until the components left after dropping
    ``|C_ij| <= _DECOUPLED`` each span <= ``_JSV_SPREAD`` nats, with a relative error
    bound <= ``_DEFLATION_TOL`` for the dropped part; then one dgejsv per component (see
    the module docstring). Raises FloatingPointError rather than return values that
    underflowed if ``max_sweeps`` do not get there. ``info`` (optional) receives
    ``sweeps``, ``components``, ``largest_component`` and ``deflation_bound``.
    """
    cur, sweeps = lt, 0
    n = lt.C.shape[0]
    while True:
        ell = cur.ell.cpu().numpy()
        c = cur.C.cpu().numpy()
        if n == 0 or float(ell.max() - ell.min()) <= _JSV_SPREAD:
            blocks, bound = [np.arange(n)], 0.0
            break
        blocks = _components(c, _DECOUPLED)
        if max(float(np.ptp(ell[b])) for b in blocks) <= _JSV_SPREAD:
            bound = _deflation_bound(c, blocks)
            if bound <= _DEFLATION_TOL:
                break
        if sweeps >= max_sweeps:
            raise FloatingPointError(
                f"log-domain QR sweeps did not split a {cur.spread:.0f}-nat spread into "
                f"components of <= {_JSV_SPREAD:.0f} nats in {max_sweeps} sweeps"
            )
        cur = _qr_sweep(cur)
        sweeps += 1
    out = np.concatenate([_block_log_values(ell[b], c[np.ix_(b, b)]) for b in blocks])
    if info is not None:
        info.update(
            sweeps=sweeps,
            components=len(blocks),
            largest_component=max(b.size for b in blocks),
            deflation_bound=bound,
        )
    return np.sort(out)[::-1].copy()


def stable_log_singular_values(
    apply_group: Callable[[torch.Tensor, int], tuple[torch.Tensor, int]],
    n: int,
    depth: int,
    *,
    device=None,
    group: int | None = None,
    max_group_spread: float = 8.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Discrete-QR log singular values of a depth-``depth`` product of N x N maps [T24].

    ``apply_group(Q, m)`` must apply the next ``m`` layers (in order) to the columns of the
    (N, N) float64 matrix ``Q`` and return ``(A Q, layers_done)``. ``group`` fixes the
    number of layers per QR (1 = textbook); ``None`` adapts it so that each group's
    log-spread of ``diag R`` stays below ``max_group_spread`` nats. Returns (log sigma
    sorted descending, info dict with ``qr_steps`` and ``max_group_spread_seen``).
    """
    lt = LogTriangular(n, device=device)
    q = torch.eye(n, dtype=torch.float64, device=device)
    done, m, steps, seen = 0, (group or 1), 0, 0.0
    while done < depth:
        m_now = min(m, depth - done)
        aq, k = apply_group(q, m_now)
        q, r = qr_positive(aq)
        d = torch.diagonal(r)
        if bool((d <= 0).any()):
            raise FloatingPointError("a layer map is singular (zero diagonal in QR)")
        lt.absorb(r)
        sp = float(torch.log(d).max() - torch.log(d).min())
        seen = max(seen, sp)
        done += k
        steps += 1
        if progress is not None:
            progress(k)
        if group is None:
            if sp > max_group_spread and m > 1:
                m = max(1, m // 2)
            elif sp < max_group_spread / 4:
                m = min(2 * m, 64)
    final: dict = {}
    logs = jacobi_log_singular_values(lt, info=final)
    out = {"qr_steps": steps, "max_group_spread_seen": seen, "spread": lt.spread}
    out.update(final_sweeps=final["sweeps"], final_components=final["components"])
    out.update(deflation_bound=final["deflation_bound"])
    return logs, out


def log_condition(logs: np.ndarray) -> float:
    """log10 of sigma_max / sigma_min from natural-log singular values."""
    return float((np.max(logs) - np.min(logs)) / math.log(10.0))
