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


# Run in a fresh interpreter: it loads the heavy third-party packages once (spectra not at
# all), then forks one child per module, so each child imports its spectra module first,
# with no other spectra module loaded (an import cycle shows up as an ImportError there).
_IMPORT_FIRST = r"""
import importlib, os, sys
import matplotlib, numpy, pandas, scipy.linalg, torch  # noqa: F401  (third-party only)
assert not [m for m in sys.modules if m == "spectra" or m.startswith("spectra.")]
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as e:
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(name)
print(" ".join(failed))
"""


def _package_modules() -> list[str]:
    """Every module of the package, found on disk (importing nothing)."""
    from pathlib import Path

    root = Path(spectra.__file__).parent
    names = set()
    for path in root.rglob("*"):
        if path.suffix not in (".py", ".so", ".pyd") or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        parts[-1] = parts[-1].split(".")[0]  # _native.cpython-311-x86_64-linux-gnu -> _native
        if parts[-1] == "__init__":
            parts.pop()
        names.add(".".join(parts))
    return sorted(names)


def test_every_module_imports_first_in_a_fresh_interpreter():
    modules = _package_modules()
    assert len(modules) > 20 and "spectra.cli.common" in modules
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_FIRST, *modules], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"modules that fail when imported first:\n{out.stderr}"


def _private_imports(path, root):
    """(line, what) for each underscore name that ``path`` imports from another spectra
    subpackage; a module imports its own subpackage's private modules freely."""
    import ast

    parts = path.relative_to(root).with_suffix("").parts
    pkg = list(parts[:-1])
    home = parts[1] if parts[0] == "spectra" and len(parts) > 2 else None
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])).split(".")
            names = [target + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".") for a in node.names]
        else:
            continue
        for full in names:
            if full[0] != "spectra" or (home and len(full) > 1 and full[1] == home):
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in full[1:]):
                found.append((node.lineno, ".".join(full)))
    return found


def test_no_private_name_is_imported_across_subpackages():
    # the documented testing hooks (spectra.jacobian.testing, spectra.meanfield.testing)
    # are public modules, so the tests never need an underscore import
    from pathlib import Path

    root = Path(spectra.__file__).parent.parent
    files = [
        p
        for d in ("spectra", "tests", "benchmarks", "experiments")
        for p in (root / d).rglob("*.py")
    ]
    bad = [
        f"{p.relative_to(root)}:{ln}: {what}"
        for p in files
        for ln, what in _private_imports(p, root)
    ]
    assert len(files) > 60
    assert not bad, "\n".join(bad)


def test_private_import_check_sees_a_cross_package_import(tmp_path):
    pkg = tmp_path / "spectra" / "rmt"
    pkg.mkdir(parents=True)
    lines = ["from ..jacobian._engine import run", "from ._laws import f", "import spectra.kernels"]
    (pkg / "_x.py").write_text("\n".join(lines) + "\n")
    assert _private_imports(pkg / "_x.py", tmp_path) == [(1, "spectra.jacobian._engine.run")]
