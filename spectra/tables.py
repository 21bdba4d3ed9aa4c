"""Tidy tables and run metadata.

Everything a command writes goes first into a staging folder and becomes ``--out`` only
when the command has finished (:func:`spectra.outputs.atomic_output`). CSVs are written
with a fixed float format so that the same seed gives the same bytes on the same machine.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["write_csv", "run_metadata", "write_run_json", "FLOAT_FORMAT"]

#: 17 significant digits: float64 round-trips exactly, and the bytes are deterministic.
FLOAT_FORMAT = "%.17g"


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` to ``path`` (no index, ``%.17g`` floats, '\\n' line ends) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get ordinary permissions
    try:
        df.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("spectra", "torch", "numpy", "scipy", "pandas", "seaborn", "typer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_metadata(
    *,
    command: list[str] | None = None,
    seed: int | None = None,
    device: str | None = None,
    seconds: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The run record: command line, package versions, seed, device, wall time, host."""
    return {
        "command": command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]],
        "seed": seed,
        "device": device,
        "seconds": seconds,
        "versions": _versions(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }


def write_run_json(folder: str | os.PathLike, meta: dict[str, Any]) -> Path:
    """Write ``meta`` as ``run.json`` in ``folder``."""
    path = Path(folder) / "run.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
    return path
