"""What every CLI command shares: the typer app, common options, the one-line error
path, atomic outputs with ``run.json`` (:mod:`spectra.outputs`), signal handling
(``_output``), devices, dtypes and rich progress.

Command modules (``spectra/cli/<name>.py``) import :data:`app` from here and register
their commands with ``@app.command()``; ``spectra/cli/__init__.py`` imports them all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import (
    INT_MAX,
    SpectraError,
    check_choice,
    check_int,
    check_q_star,
    check_real,
    check_sigma,
)
from ..outputs import atomic_output
from ..tables import run_metadata, write_run_json
from ._output import Terminated, handle_signals, interrupt_line

__all__ = [
    "app",
    "SpectraGroup",
    "SeedOpt",
    "DeviceOpt",
    "DtypeOpt",
    "QuietOpt",
    "OutOpt",
    "resolve_device",
    "resolve_dtype",
    "check_operating_point",
    "command_run",
    "RunContext",
    "progress_bar",
    "echo",
    "parse_int_list",
    "parse_float_list",
    "parse_name_list",
    "ForceOpt",
]


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} chars)"


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


class SpectraGroup(TyperGroup):
    """Typer group whose errors are one line on stderr with exit code 2, no traceback;
    Ctrl-C, SIGTERM and SIGHUP clean up and exit 128 + the signal number."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            with handle_signals():
                rv = super().main(
                    args=args,
                    prog_name=prog_name,
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
        except SpectraError as e:
            typer.echo(f"spectra: error: {_one_line(e)}", err=True)
            sys.exit(2)
        except Terminated as e:
            typer.echo(interrupt_line(e), err=True)
            sys.exit(e.code)
        except typer.Abort:
            typer.echo("spectra: aborted", err=True)
            sys.exit(1)
        except typer.TyperException as e:  # usage errors: typer's vendored click
            text = e.format_message() if hasattr(e, "format_message") else str(e)
            typer.echo(f"spectra: error: {_one_line(text)}", err=True)
            sys.exit(getattr(e, "exit_code", 0) or 2)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=SpectraGroup,
    name="spectra",
    help="Signal propagation and Jacobian spectra of very deep vanilla CNNs (Xiao et al. 2018).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (every CSV row carries it).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float32 | float64.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Run even when the cost estimate exceeds memory or time."),
]

OutOpt = Annotated[
    Path, typer.Option("--out", help="Output folder; files appear only when the run is complete.")
]


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' if available else 'cpu'; validate 'cpu' / 'cuda' / 'cuda:N'."""
    import torch

    d = device.lower()
    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if d == "cpu":
        return "cpu"
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SpectraError(f"device {device!r} requested but no CUDA GPU is available")
        return d
    raise SpectraError(f"unknown device {device!r}; choose auto, cpu or cuda")


def resolve_dtype(dtype: str):
    """'float32' | 'float64' -> the torch dtype."""
    import torch

    table = {"float32": torch.float32, "float64": torch.float64}
    if dtype not in table:
        raise SpectraError(f"unknown dtype {dtype!r}; choose float32 or float64")
    return table[dtype]


def _items(text: str, name: str, what: str) -> list[str]:
    """The comma-separated items of ``text``, stripped; refuses an empty list or item."""
    if not text.strip():
        raise SpectraError(f"{name} must list at least one of its {what}, got {_short(text)}")
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise SpectraError(
            f"{name} has an empty item in {_short(text)}; give {what} separated by single commas"
        )
    return items


def _convert(items: list[str], name: str, convert, what: str, text: str) -> list:
    try:
        return [convert(t) for t in items]
    except (ValueError, OverflowError):
        raise SpectraError(
            f"{name} must be a comma-separated list of {what}, got {_short(text)}"
        ) from None


def check_operating_point(sigma_w, sigma_b, q_star) -> None:
    """The operating-point options that were given (None: not given), in their ranges."""
    if sigma_w is not None:
        check_sigma("--sigma-w", sigma_w)
    if sigma_b is not None:
        check_sigma("--sigma-b", sigma_b, bias=True)
    if q_star is not None:
        check_q_star("--q-star", q_star)


def parse_int_list(
    text: str, name: str, minimum: int = 1, maximum: int | None = INT_MAX
) -> list[int]:
    """'2,4,8' -> [2, 4, 8], each in ``minimum .. maximum``; a one-line SpectraError names
    the option on bad input (an empty item such as ``2,,4`` included)."""
    values = _convert(_items(text, name, "integers"), name, int, "integers", text)
    return [check_int(f"each {name} value", v, minimum, maximum) for v in values]


def parse_float_list(text: str, name: str, **bounds) -> list[float]:
    """'0.5,1,2' -> [0.5, 1.0, 2.0], each finite and within ``bounds`` (the keywords of
    :func:`spectra.errors.check_real`); one-line SpectraError on bad input."""
    values = _convert(_items(text, name, "numbers"), name, float, "numbers", text)
    return [check_real(f"each {name} value", v, **bounds) for v in values]


def parse_name_list(text: str, name: str, choices) -> list[str]:
    """'gs0,gs4' -> ['gs0', 'gs4'], each one of ``choices`` and none twice."""
    names = [check_choice(name, t, choices) for t in _items(text, name, "names")]
    twice = sorted({t for t in names if names.count(t) > 1})
    if twice:
        raise SpectraError(f"{name} lists {', '.join(twice)} more than once in {_short(text)}")
    return names


@dataclass
class RunContext:
    """Handed to a command body: the temporary folder to write into, and run.json extras."""

    folder: Path
    quiet: bool
    meta: dict[str, Any] = field(default_factory=dict)


@contextmanager
def command_run(
    out: Path,
    *,
    seed: int | None,
    device: str | None,
    quiet: bool,
    resume: tuple[str, ...] = (),
    **meta: Any,
) -> Iterator[RunContext]:
    """Run a command body writing into a staging folder, holding the lock on ``out``; on
    success add ``run.json`` (command line, versions, seed, device, wall time) and swap
    the set in as ``out`` (:func:`spectra.outputs.atomic_output`; ``resume``: the entries
    carried over from ``out`` and kept after an interrupt)."""
    t0 = time.perf_counter()
    with atomic_output(out, resume=resume) as tmp:
        ctx = RunContext(folder=tmp, quiet=quiet, meta=dict(meta))
        yield ctx
        write_run_json(
            tmp,
            run_metadata(seed=seed, device=device, seconds=time.perf_counter() - t0, **ctx.meta),
        )


@contextmanager
def progress_bar(description: str, total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n=1)``; draws a rich progress bar on stderr unless ``quiet``."""
    if quiet:
        with nullcontext():
            yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def echo(message: str, quiet: bool = False) -> None:
    """Print a line to stdout unless ``quiet``."""
    if not quiet:
        typer.echo(message)
