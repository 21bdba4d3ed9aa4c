"""The package's public face: every re-exported name resolves to its submodule's object."""

from __future__ import annotations

import importlib
import subprocess
import sys

import spectra


def test_every_export_resolves_to_the_submodule_object():
    for name, module in spectra._EXPORTS.items():
        sub = importlib.import_module(f"spectra.{module}")
        assert name in getattr(sub, "__all__", [name]), (name, module)
        assert getattr(spectra, name) is getattr(sub, name)


def test_import_spectra_does_not_load_torch():
    code = "import sys, spectra, spectra.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_raises():
    try:
        spectra.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")
