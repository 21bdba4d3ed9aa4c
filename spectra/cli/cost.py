"""What a command will cost before it starts: peak memory and a rough wall time.

Each command turns its options into one or more :class:`Cost` estimates (one per route
it could take) and calls :func:`check_cost` before any heavy import, allocation or file:
if even the cheapest route needs more memory than the machine has available, or more
time than :data:`TIME_LIMIT_S`, the command is refused with the numbers in one line.
``--force`` runs it anyway, unless it needs more than the machine's memory and swap. The
rates below were measured on a 2-core x86 box with one thread (they are optimistic: a real
run is slower, never faster by much), so the time is a lower bound and the refusal errs on
the side of running.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import SpectraError

__all__ = [
    "Cost",
    "check_cost",
    "available_memory",
    "jacobian_costs",
    "train_cost",
    "grid_cost",
    "weights_cost",
    "TIME_LIMIT_S",
    "FLOP_RATE",
]

#: Jobs estimated to run longer than this (seconds) are refused without --force.
TIME_LIMIT_S = 7 * 86400.0
#: Sustained float operations per second of the conv/GEMM routes (measured 1-3e10 on one
#: core of the reference box; the estimate takes the fast end).
FLOP_RATE = 3e10
#: What the Python process with torch, pandas and matplotlib holds before any work.
BASE_BYTES = 500 * 2**20


@dataclass(frozen=True)
class Cost:
    """An estimate for one route: ``bytes`` of peak memory, ``seconds`` of wall time."""

    route: str
    bytes: float
    seconds: float


def available_memory() -> int:
    """Bytes the process may still allocate: MemAvailable of /proc/meminfo (Linux), else
    the physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


def total_memory() -> int:
    """Bytes of physical memory plus swap (MemTotal + SwapTotal of /proc/meminfo), the
    bound that --force does not lift."""
    total = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(("MemTotal:", "SwapTotal:")):
                    total += int(line.split()[1]) * 1024
    except OSError:
        pass
    return total or available_memory()


def _size(n: float) -> str:
    if not math.isfinite(n):
        return "more than 1e308 bytes"
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if n < 1e4 * 2**50 else f"{n:.2e} bytes"
    return f"{n / 1024:.3g} KiB"


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "more than 1e308 s"
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}" if s < 1e6 * scale else f"{s / scale:.2e} {unit}"
    return f"{s:.3g} s"


def check_cost(options: dict, costs: list[Cost], force: bool) -> Cost:
    """The cheapest of ``costs`` that fits; a one-line :class:`SpectraError` naming
    ``options`` (``{"--depth": 4000, ...}``, what drives the cost) with the estimate if
    none does (memory above :func:`available_memory`, or time above
    :data:`TIME_LIMIT_S`), unless ``force``."""
    avail = available_memory()

    def fits(c: Cost) -> bool:
        return c.bytes + BASE_BYTES <= avail and c.seconds <= TIME_LIMIT_S

    def excess(c: Cost) -> float:  # how far over the nearer-fitting route is
        return max((c.bytes + BASE_BYTES) / avail, c.seconds / TIME_LIMIT_S)

    best = min(costs, key=lambda c: (not fits(c), excess(c), c.seconds))
    given = " ".join(f"{k} {_value(v)}" for k, v in options.items())
    if force and best.bytes + BASE_BYTES > total_memory():
        raise SpectraError(
            f"{given}: refused even with --force, the job is estimated at "
            f"{_size(best.bytes + BASE_BYTES)} of memory ({best.route}), more than this "
            f"machine's {_size(total_memory())} of memory and swap"
        )
    if force or fits(best):
        return best
    raise SpectraError(
        f"{given}: refused before starting, the job is estimated at "
        f"{_size(best.bytes + BASE_BYTES)} of memory and {_duration(best.seconds)} "
        f"({best.route}); allowed: {_size(avail)} (available now) and "
        f"{_duration(TIME_LIMIT_S)}; use smaller values, or --force to run it anyway"
    )


def _value(v) -> str:
    text = str(v)
    return text if len(text) <= 24 else f"{text[:6]}...({len(text)} digits)"


def _f(x) -> float:
    """``x`` as a float, capped at 1e300 (an integer option may have any number of digits)."""
    return float(min(x, 10**300))


def _push_flops(tangents: float, n_feat: float, channels: float, taps: float) -> float:
    """Multiply-adds x 2 of one circular conv layer applied to ``tangents`` vectors."""
    return 2.0 * tangents * n_feat * channels * taps


def jacobian_costs(
    depth: int,
    channels: int,
    size: int,
    kernel: int,
    dim: int,
    *,
    routes: tuple[str, ...],
    itemsize: int = 4,
    lanczos_steps: int = 40,
    probes: int = 4,
) -> list[Cost]:
    """Estimates of ``spectra jacobian`` for each of ``routes`` (forward, stable, dense,
    lanczos), N = c n^dim [T21]: forward keeps two N x N tangent buffers whatever the depth
    plus the float64 SVD; stable adds the QR factor of [T24]; dense forms each layer's
    N x N matrix; Lanczos keeps every layer prepared (weights and phi') plus its Krylov
    vectors, and pushes ``probes`` vectors 1 + 2 ``lanczos_steps`` times per layer."""
    L, c, taps = _f(depth), _f(channels), _f(kernel) ** dim
    n_feat = c * _f(size) ** dim
    draw = L * (4.0 * c**3 + 20.0 * c * c * taps)  # the kernels, drawn layer by layer
    out = []
    for route in routes:
        if route == "lanczos":
            steps = min(_f(lanczos_steps), n_feat)
            mem = L * (c * c * taps + 3 * n_feat) * 8 + _f(probes) * (steps + 2) * n_feat * 16
            flops = L * (1 + 2 * steps) * _push_flops(_f(probes), n_feat, c, taps)
        elif route == "dense":
            mem = 4 * n_feat**2 * 8
            flops = L * 2 * n_feat**3
        else:  # forward, stable
            mem = n_feat**2 * (2 * itemsize + 16) + (32 * n_feat**2 if route == "stable" else 0)
            flops = L * _push_flops(n_feat, n_feat, c, taps) + 10 * n_feat**3
            if route == "stable":
                flops += 2 * (L / 32 + 1) * n_feat**3
        out.append(Cost(route, mem, (flops + draw) / FLOP_RATE))
    return out


def train_cost(
    *,
    depth: int,
    channels: int,
    batch_size: int,
    steps: int,
    image_side: int,
    itemsize: int = 4,
    eval_images: int = 0,
    evaluations: int = 0,
    kernel: int = 3,
) -> Cost:
    """One training run: the block (``depth`` convs of ``channels`` on the image side / 4,
    after the stride-2 stem) forward and backward (~3x forward) per step, plus
    ``evaluations`` passes over ``eval_images``; memory: the activations autograd keeps
    (~4 tensors per layer per image) and the parameters with gradient and optimiser
    state."""
    n = max(_f(image_side) / 4.0, 1.0)
    c, L = _f(channels), _f(depth)
    layer = 2.0 * n * n * c * c * kernel * kernel
    flops = _f(steps) * 3 * _f(batch_size) * L * layer
    flops += _f(evaluations) * _f(eval_images) * L * layer
    acts = _f(batch_size) * L * c * n * n * itemsize * 4
    params = L * c * c * kernel * kernel * itemsize * 4
    return Cost("train", acts + params, flops / FLOP_RATE)


def grid_cost(route: str, points: float, bytes_per_point: float, seconds_per_point: float) -> Cost:
    """A job whose cost is per point of a grid (phase diagram, density grid, Fourier modes),
    with the per-point rates each command measured."""
    return Cost(route, _f(points) * bytes_per_point, _f(points) * seconds_per_point)


def weights_cost(channels: list[int], size: int, kernel: int, dim: int, seeds: int) -> Cost:
    """``spectra weights``: per channel count c and seed, the dense N x N Gaussian matrix
    (N = c n^dim) and its SVD (~10 N^3), and n^dim c x c SVDs of the conv symbol."""
    pos = _f(size) ** dim
    n_max = _f(max(channels)) * pos
    flops = sum(10.0 * (_f(c) * pos) ** 3 + pos * 10.0 * _f(c) ** 3 for c in channels)
    mem = 3 * n_max**2 * 8 + _f(seeds) * sum(2 * _f(c) * pos for c in channels) * 8
    return Cost("dense SVD", mem, _f(seeds) * flops / FLOP_RATE)
