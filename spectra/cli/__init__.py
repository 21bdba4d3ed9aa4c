"""The ``spectra`` command line: a thin typer layer over the library.

Every public module in this package other than ``common`` registers its commands on
:data:`spectra.cli.common.app` when imported.
"""

from __future__ import annotations

import importlib
import pkgutil

from .common import app

__all__ = ["app", "main"]

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _mod != "common" and not _mod.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod}")


def main() -> None:
    """Console-script entry point."""
    app()
