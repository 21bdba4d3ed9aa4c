"""Benchmark the Jacobian engine against torch's own Jacobian routes and the machine.

In ONE process (so the numbers are comparable): the engine's ``forward`` method against
``torch.func.jacfwd`` + ``vmap`` and ``torch.autograd.functional.jacobian`` on the same
network and input (the slow peer once, at the full depth: timing it at depth 5 and
scaling x40 overstated it 1.5x, its fixed per-call costs scaled too), the achieved
GFLOP/s against a same-process GEMM, peak memory at two depths (resident-set high-water
mark of a child process running the engine), the CLI end to end (start-up included),
and Lanczos against the full spectrum.

    python benchmarks/jacobian.py                       # CPU -> results/benchmarks/jacobian.csv
    python benchmarks/jacobian.py --device cuda --out results/benchmarks/jacobian-gpu.csv
    python benchmarks/jacobian.py --smoke               # tiny sizes, seconds, for CI/tests
    python benchmarks/jacobian.py --smoke --gpu-rows --out /tmp/g.csv   # dry run of the GPU rows

Columns: ``row, method, init, device, dtype, channels, size, depth, n, seconds,
peer_seconds, speedup, gflops, gemm_gflops, peak_rss_mb, w1_log, note, seed``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from spectra.jacobian import (
    ConvStack,
    exact_float32,
    jacobian_forward,
    native_route,
    spectrum,
    tune_allocator,
)
from spectra.network import BlockSpec, CircularConvBlock, fixed_point_input, iter_block_layers
from spectra.tables import write_csv

COLUMNS = [
    "row",
    "method",
    "init",
    "device",
    "dtype",
    "channels",
    "size",
    "depth",
    "n",
    "seconds",
    "peer_seconds",
    "speedup",
    "gflops",
    "gemm_gflops",
    "peak_rss_mb",
    "w1_log",
    "note",
    "seed",
]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _stack(init, c, n, depth, seed, *, sw=None, sb=None, materialise=True, gen_device=None):
    from spectra.meanfield import operating_point

    if sw is None:
        sw, sb, q = operating_point(depth)
    else:
        q = 1.0 / depth
    spec = BlockSpec(depth, c, n, 3, 2, init, sw, sb)
    x0 = fixed_point_input(c, n, q_star=q, generator=torch.Generator().manual_seed(seed + 1))
    if materialise:
        g = torch.Generator(device=gen_device or "cpu").manual_seed(seed)
        layers = list(iter_block_layers(spec, generator=g))
        return ConvStack.from_layers(layers, x0, "tanh"), layers, x0
    return ConvStack.from_spec(spec, x0, "tanh", seed=seed, gen_device=gen_device), None, x0


def conv_flops(c: int, n: int, depth: int, batch: int, delta: bool) -> float:
    """Multiply-adds x 2 of the tangent push: per layer 2 B c^2 k^2 n^2 (k^2 -> 1 for delta)."""
    taps = 1 if delta else 9
    return 2.0 * batch * c * c * taps * n * n * depth


def factored_flops(c: int, n: int, depth: int, k: int = 3) -> float:
    """Multiply-adds x 2 of the native factored orth push: 1 + 2 (k - 1) channel mixes
    of c x c per pixel and tangent (spectra.kernels)."""
    return 2.0 * (c * n * n) * c * c * (1 + 2 * (k - 1)) * n * n * depth


def gemm_gflops(device: str, dtype, size: int = 2048, reps: int = 5) -> float:
    """Same-process GEMM throughput (GFLOP/s) at ``size``^2 in ``dtype``."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    with exact_float32():
        a @ a
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ a
        _sync(device)
        dt = (time.perf_counter() - t) / reps
    return 2.0 * size**3 / dt / 1e9


def time_engine(stack, dtype, device) -> float:
    _sync(device)
    t = time.perf_counter()
    jacobian_forward(stack, dtype=dtype, device=device)
    _sync(device)
    return time.perf_counter() - t


def _block(layers, x0, dtype, device):
    """The torch module of ``layers`` and the input, in ``dtype`` on ``device`` (the peers')."""
    blk = CircularConvBlock(
        torch.stack([w for w, _ in layers]).to(dtype), torch.stack([b for _, b in layers]).to(dtype)
    ).to(device)
    return blk, x0.to(device=device, dtype=dtype)


def _time_jacfwd_of(module, x, device) -> float:
    """Seconds of ``torch.func.jacfwd`` (+ vmap) of ``module`` at the one image ``x``."""
    f = torch.func.jacfwd(lambda z: module(z[None])[0])
    with torch.no_grad():
        _sync(device)
        t = time.perf_counter()
        f(x)
        _sync(device)
    return time.perf_counter() - t


def time_jacfwd(layers, x0, dtype, device) -> float:
    blk, x = _block(layers, x0, dtype, device)
    return _time_jacfwd_of(blk, x, device)


def time_autograd(layers, x0, dtype, device) -> float:
    blk, x = _block(layers, x0, dtype, device)
    _sync(device)
    t = time.perf_counter()
    torch.autograd.functional.jacobian(lambda z: blk(z[None])[0], x)
    _sync(device)
    return time.perf_counter() - t


def peak_rss_child(init: str, c: int, n: int, depth: int, dtype: str, seed: int) -> float:
    """Peak resident set (MB) of a fresh process that runs the streamed forward method
    (layers drawn lazily, never all held) and its SVD."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import resource, torch, sys; sys.path.insert(0, {root!r});"
        "from benchmarks.jacobian import _stack; from spectra.jacobian import spectrum, "
        "tune_allocator; tune_allocator();"
        f"s, _, _ = _stack({init!r}, {c}, {n}, {depth}, {seed}, materialise=False);"
        f"spectrum(s, 'forward', dtype=torch.{dtype});"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def cli_wall(args: list[str], out: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["spectra", "jacobian", *args, "--out", str(out), "--quiet"], check=True)
    return time.perf_counter() - t


def _row(**kw) -> dict:
    base = dict.fromkeys(COLUMNS, math.nan)
    base.update(note="")
    base.update(kw)
    return base


def _ids(init, device, dtype: str, c: int, n: int, depth: int, seed: int, **extra) -> dict:
    """The columns that say what a row measured (``n`` = c n^2, the Jacobian's size)."""
    return dict(
        init=init,
        device=device,
        dtype=dtype,
        channels=c,
        size=n,
        depth=depth,
        n=c * n * n,
        seed=seed,
        **extra,
    )


def time_jacfwd_plain(layers, x0, dtype, device) -> float:
    """jacfwd + vmap on the stack as a PyTorch user writes it: ``nn.Conv2d(...,
    padding_mode='circular')`` + ``tanh`` in an ``nn.Sequential``."""
    from torch import nn

    c = x0.shape[0]
    mods = []
    for w, b in layers:
        conv = nn.Conv2d(c, c, w.shape[-1], padding=w.shape[-1] // 2, padding_mode="circular")
        conv.weight.data.copy_(w)
        conv.bias.data.copy_(b)
        mods += [conv, nn.Tanh()]
    net = nn.Sequential(*mods).to(device=device, dtype=dtype)
    return _time_jacfwd_of(net, x0.to(device=device, dtype=dtype), device)


def time_conv_floor(c, n, k, depth, dtype, device) -> float:
    """The arithmetic floor of one forward pass: ``depth`` bare convs of the N-image
    tangent batch on a pre-padded channels-last buffer (no phi', no halo, no primal)."""
    nf = c * n * n
    x = torch.randn(nf, c, n + k - 1, n + k - 1, dtype=dtype, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(c, c, k, k, dtype=dtype, device=device)
    torch.nn.functional.conv2d(x, w)
    _sync(device)
    t = time.perf_counter()
    for _ in range(depth):
        torch.nn.functional.conv2d(x, w)
    _sync(device)
    return time.perf_counter() - t


def bench_peers(rows, device, dtype, c, n, depth, slow_depth, seed, gemm, repeats=7):
    """Engine vs peers: each timed ``repeats`` times, interleaved (engine, jacfwd, plain
    jacfwd, engine, ...) so that drifts in machine load hit all alike; medians reported.
    The conv floor row is the engine's arithmetic alone: the best any route doing the
    same convolutions can reach (its ``speedup`` is the ceiling jacfwd / floor)."""
    name = str(dtype).replace("torch.", "")
    med = lambda v: float(np.median(v))  # noqa: E731
    for init in ("orth", "delta-orth", "gaussian"):
        stack, layers, x0 = _stack(init, c, n, depth, seed)
        time_engine(_stack(init, c, n, 3, seed)[0], dtype, device)  # warm-up
        time_jacfwd(layers[:2], x0, dtype, device)  # warm-up: tracing, conv primitives
        time_jacfwd_plain(layers[:2], x0, dtype, device)
        # how the engine pushes: orth layers carry Algorithm 1's factors (native factored
        # push), other kernels go native by their taps; ``taps_stack`` is the orth stack
        # without its factors, and the conv route is timed with the native kernel off
        route = native_route(layers[0], tuple(x0.shape), dtype, torch.device(device), native=True)
        kind = None if route == "conv" else route
        taps_stack = ConvStack.from_layers([(w, b) for w, b in layers], x0, "tanh")
        taps_stack = replace(taps_stack, native=True)
        auto_native = native_route(layers[0], tuple(x0.shape), dtype, torch.device(device))
        t_eng, t_jf, t_pl, t_tp, t_cv, t_nv = [], [], [], [], [], []
        for _ in range(repeats):
            t_eng.append(time_engine(stack, dtype, device))
            t_jf.append(time_jacfwd(layers, x0, dtype, device))
            t_pl.append(time_jacfwd_plain(layers, x0, dtype, device))
            if kind == "factored":
                t_tp.append(time_engine(taps_stack, dtype, device))
            if kind is not None:
                t_cv.append(time_engine(replace(stack, native=False), dtype, device))
                t_nv.append(time_engine(replace(stack, native=True), dtype, device))
        t_eng, t_jf, t_pl = med(t_eng), med(t_jf), med(t_pl)
        slow_depth = slow_depth or depth
        sl = layers[:slow_depth]
        time_autograd(layers[:1], x0, dtype, device)  # warm-up
        t_ag = time_autograd(sl, x0, dtype, device) * depth / slow_depth
        delta = init == "delta-orth"
        fl = conv_flops(c, n, depth, c * n * n, delta)
        common = _ids(init, device, name, c, n, depth, seed, gemm_gflops=gemm)
        note = f"median of {repeats}, interleaved"
        how = {
            "factored": "; native factored push (5 channel mixes per pixel)",
            "taps": "; native taps push",
            "conv": "; conv route (the native kernel is slower on this CPU)",
        }[auto_native]
        rows.append(
            _row(
                row="engine",
                method="forward",
                seconds=t_eng,
                gflops=(factored_flops(c, n, depth) if auto_native == "factored" else fl)
                / t_eng
                / 1e9,
                note=note + how,
                **common,
            )
        )
        for row, t_alt, what in (
            ("engine_native", t_nv, f"the same stack with the native kernel forced ({kind})"),
            ("engine_taps", t_tp, "the same stack without its factors (native taps)"),
            ("engine_conv", t_cv, "the same stack by the conv route (native kernel off)"),
        ):
            if t_alt:
                t_alt = med(t_alt)
                rows.append(
                    _row(
                        row=row,
                        method="forward",
                        seconds=t_alt,
                        peer_seconds=t_jf,
                        speedup=t_jf / t_alt,
                        gflops=fl / t_alt / 1e9,
                        note=f"{note}; {what}; speedup vs jacfwd",
                        **common,
                    )
                )
        if not delta:
            with exact_float32():
                t_fl = med([time_conv_floor(c, n, 3, depth, dtype, device) for _ in range(repeats)])
            rows.append(
                _row(
                    row="conv_floor",
                    method="conv2d only",
                    seconds=t_fl,
                    peer_seconds=t_jf,
                    speedup=t_jf / t_fl,
                    gflops=fl / t_fl / 1e9,
                    note="bare convs of the tangent batch, median of "
                    f"{repeats}; speedup = jacfwd / floor, the ceiling of any same-"
                    "arithmetic route",
                    **common,
                )
            )
        for row, method, t_peer, extra in (
            ("vs_jacfwd_vmap", "torch.func.jacfwd", t_jf, "spectra's CircularConvBlock"),
            (
                "vs_jacfwd_vmap_plain",
                "torch.func.jacfwd",
                t_pl,
                "nn.Conv2d(padding_mode='circular') + nn.Tanh",
            ),
        ):
            rows.append(
                _row(
                    row=row,
                    method=method,
                    seconds=t_eng,
                    peer_seconds=t_peer,
                    speedup=t_peer / t_eng,
                    note=f"{note}; peer on {extra}",
                    **common,
                )
            )
        rows.append(
            _row(
                row="vs_autograd_jacobian",
                method="torch.autograd.functional.jacobian",
                seconds=t_eng,
                peer_seconds=t_ag,
                speedup=t_ag / t_eng,
                note="peer timed once at the full depth"
                if slow_depth == depth
                else f"peer timed at depth {slow_depth}, scaled x{depth / slow_depth:g}",
                **common,
            )
        )


def bench_memory(rows, init, c, n, depths, seed):
    for d in depths:
        rss = peak_rss_child(init, c, n, d, "float32", seed)
        rows.append(
            _row(
                row="peak_memory",
                method="forward",
                peak_rss_mb=rss,
                note="ru_maxrss of a child process",
                **_ids(init, "cpu", "float32", c, n, d, seed),
            )
        )


def bench_lanczos(rows, device, dtype, c, n, depth, seed, full: bool, steps, probes, init="orth"):
    from scipy.stats import wasserstein_distance

    name = str(dtype).replace("torch.", "")
    gd = device if device.startswith("cuda") else None  # draw kernels on the GPU there
    stack, _, _ = _stack(init, c, n, depth, seed, materialise=False, gen_device=gd)
    common = _ids(init, device, name, c, n, depth, seed)
    _sync(device)
    res_l = spectrum(
        stack,
        "lanczos",
        dtype=dtype,
        device=device,
        lanczos_options={"steps": steps, "probes": probes, "seed": seed},
    )
    _sync(device)
    t_l = res_l.seconds
    if not full:
        rows.append(
            _row(
                row="lanczos",
                method="lanczos",
                seconds=t_l,
                note=f"steps={steps}, probes={probes}",
                **common,
            )
        )
        return
    res_f = spectrum(stack, "forward", dtype=dtype, device=device)
    ls = res_f.log_singular_values
    d = res_l.density
    w1 = wasserstein_distance(d["ritz_log_lambda"], 2 * ls, d["ritz_weight"])
    rows.append(
        _row(
            row="lanczos_vs_full",
            method="lanczos",
            seconds=t_l,
            peer_seconds=res_f.seconds,
            speedup=res_f.seconds / t_l,
            w1_log=w1,
            note=f"steps={steps}, probes={probes}; peer = forward full spectrum",
            **common,
        )
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument(
        "--rows",
        default="peers,memory,cli,lanczos",
        help="comma list of row groups: peers,memory,cli,lanczos,lanczos-full",
    )
    ap.add_argument(
        "--append",
        action="store_true",
        help="keep the rows already in --out except those of the row kinds measured now",
    )
    ap.add_argument(
        "--lanczos-full-init",
        default="delta-orth",
        help="init of the Lanczos-vs-full row (the full orth spectrum at N = 4096, depth "
        "1000 costs ~20 TFLOP, over 10 minutes here)",
    )
    ap.add_argument(
        "--gpu-rows",
        action="store_true",
        help="the --device cuda row set on any device (with --smoke: a CPU dry run of it)",
    )
    args = ap.parse_args(argv)
    dev = args.device
    groups = set(args.rows.split(","))
    gpu = dev.startswith("cuda") or args.gpu_rows
    out = args.out or Path("results/benchmarks") / ("jacobian-gpu.csv" if gpu else "jacobian.csv")
    tune_allocator()
    rows: list[dict] = []
    # earlier rows, kept with --append except the row kinds measured now
    previous = pd.read_csv(out) if (args.append and out.exists()) else None

    def flush() -> pd.DataFrame:
        """Write what is measured so far (a timeout later still leaves these rows)."""
        df = pd.DataFrame(rows, columns=COLUMNS)
        if previous is not None:
            old = previous[~previous["row"].isin(set(df["row"]))]
            df = pd.concat([old, df], ignore_index=True)
        write_csv(df, out)
        return df

    f32 = torch.float32
    gemm = gemm_gflops(dev, f32, 512 if args.smoke else 2048)
    s = args.smoke
    if "peers" in groups:
        bench_peers(
            rows,
            dev,
            f32,
            4 if s else 16,
            4 if s else 8,
            10 if s else 200,
            2 if s else None,
            args.seed,
            gemm,
        )
    flush()
    if "memory" in groups and not gpu:
        bench_memory(
            rows,
            "gaussian",
            4 if s else 16,
            4 if s else 8,
            (20, 80) if s else (1000, 4000),
            args.seed,
        )
    flush()
    if "cli" in groups and not gpu:
        depth = 20 if s else 4000
        cargs = ["--init", "orth", "--depth", str(depth)] + (["--channels", "4"] if s else [])
        t = cli_wall(cargs, Path(os.environ.get("TMPDIR", "/tmp")) / "spectra-bench-cli")
        rows.append(
            _row(
                row="cli",
                method="auto",
                init="orth",
                device="cpu",
                dtype="float32",
                channels=4 if s else 16,
                size=8,
                depth=depth,
                seconds=t,
                n=(4 if s else 16) * 64,
                seed=0,
                note="spectra jacobian --init orth --depth N: wall, start-up incl.",
            )
        )
    flush()
    if gpu:
        if "full" in groups or "peers" in groups:
            c, depth = (8, 20) if s else (128, 10000)
            # kernels drawn on the GPU: an orth c=128 kernel costs ~50 ms on 2 CPU cores
            gd = dev if dev.startswith("cuda") else None
            stack, _, _ = _stack("orth", c, 8, depth, args.seed, materialise=False, gen_device=gd)
            res = spectrum(stack, "forward", dtype=f32, device=dev)
            rows.append(
                _row(
                    row="full_spectrum",
                    method="forward",
                    init="orth",
                    device=dev,
                    dtype="float32",
                    channels=c,
                    size=8,
                    depth=depth,
                    n=c * 64,
                    seconds=res.seconds,
                    seed=args.seed,
                    gflops=conv_flops(c, 8, depth, c * 64, False) / res.seconds / 1e9,
                    gemm_gflops=gemm,
                    note="layers streamed from the CPU generator",
                )
            )
        flush()
        if "lanczos" in groups:
            bench_lanczos(
                rows,
                dev,
                f32,
                8 if s else 256,
                8,
                20 if s else 1000,
                args.seed,
                False,
                10 if s else 40,
                4,
            )
    elif "lanczos" in groups or "lanczos-full" in groups:
        if "lanczos-full" in groups:
            bench_lanczos(
                rows,
                dev,
                f32,
                8 if s else 64,
                8,
                20 if s else 1000,
                args.seed,
                True,
                10 if s else 40,
                4,
                init=args.lanczos_full_init,
            )
        bench_lanczos(
            rows,
            dev,
            f32,
            8 if s else 128,
            8,
            20 if s else 1000,
            args.seed,
            False,
            10 if s else 40,
            4,
        )
    df = flush()
    meta = {
        "command": [Path(sys.argv[0]).name, *(argv or sys.argv[1:])],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if dev.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name()
    meta_path = out.with_suffix(".json")
    history = []
    if args.append and meta_path.exists():
        prev = json.loads(meta_path.read_text())
        history = prev.get("history", [prev.get("command")])
    meta["history"] = [*history, meta["command"]]  # every command that made rows here
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(df.to_string())


if __name__ == "__main__":
    main()
