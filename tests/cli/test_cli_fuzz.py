"""Property-based test of the CLI contract over every option of every command.

Each example draws a value (or nothing) for every option of one command, from a typed
strategy that mixes small valid values with hostile ones: out-of-range and overflowing
integers, non-finite and huge floats, malformed lists (``2,,4``, ``,,,``), unknown names,
empty strings. The contract: exit 0 with every output file present and no warning, or
exit 2 with exactly one line on stderr and no files at all (neither ``--out`` nor a temp
folder beside it). Anything else (a traceback, exit 1, a second line) is a violation.

Valid values are small so that successful runs take well under a second. ``--out`` is
always a fresh folder and the data set is the bundled ``digits``: awkward output targets
and corrupt data files have their own tests. The default profile runs a few dozen examples per
command (210 in all, :data:`DEFAULT_EXAMPLES`); ``HYPOTHESIS_PROFILE=slow`` runs 250
per command, 2,250 in all (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
import typer
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from spectra.cli import app

#: Where to append one line per example (exit code, command line), if set.
LOG = os.environ.get("SPECTRA_FUZZ_LOG")
CLI = typer.main.get_command(app)  # built once: typer rebuilds it on every invoke otherwise

pytestmark = pytest.mark.usefixtures("one_thread")

# ------------------------------------------------------------------ hostile values
HUGE_INTS = [
    "9223372036854775807",  # int64 max
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999",
    "1" + "0" * 400,  # beyond any float
    "-9223372036854775809",
]
BAD_INTS = ["0", "-1", "1e3", "1.5", "", " ", "abc", "0x10", "nan", "2,4"] + HUGE_INTS
BAD_FLOATS = ["nan", "inf", "-inf", "1e300", "-1e300", "1e400", "5e-324", "0", "-0.0", "1e38"]
BAD_FLOATS += ["-1", "", "abc", "1e-320", "1,2"]
BAD_NAMES = ["", " ", "x", "ORTH ", "gs5", "gaussian,orth", "é", "a" * 300, "orth\nx"]
BAD_LISTS = ["", ",", ",,,", "2,,4", "2,", ",2", "2;4", "0", "-1", "1e3", "2 4", "nan"]
BAD_LISTS += ["99999999999999999999999", "1,1e400", "inf"]


def _int(lo: int, hi: int):
    return st.integers(lo, hi).map(str), st.sampled_from(BAD_INTS)


def _float(lo: float, hi: float) -> st.SearchStrategy[str]:
    valid = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False).map(
        repr
    )
    return valid, st.sampled_from(BAD_FLOATS)


def _name(*valid: str) -> st.SearchStrategy[str]:
    return st.sampled_from(valid), st.sampled_from(BAD_NAMES)


def _int_list(lo: int, hi: int, most: int = 3) -> st.SearchStrategy[str]:
    valid = st.lists(st.integers(lo, hi), min_size=1, max_size=most).map(
        lambda xs: ",".join(map(str, xs))
    )
    return valid, st.sampled_from(BAD_LISTS)


def _float_list(lo: float, hi: float, most: int = 3) -> st.SearchStrategy[str]:
    valid = st.lists(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        min_size=1,
        max_size=most,
    ).map(lambda xs: ",".join(map(repr, xs)))
    return valid, st.sampled_from(BAD_LISTS)


def _names(*valid: str) -> st.SearchStrategy[str]:
    ok = st.lists(st.sampled_from(valid), min_size=1, max_size=2, unique=True).map(",".join)
    return ok, st.sampled_from(BAD_LISTS + BAD_NAMES + ["orth,,gs0", "gs0,gs0"])


SEED = _int(0, 2**31)
DEVICE = st.sampled_from(["cpu", "auto", "CPU"]), st.sampled_from(["cuda", "tpu", "", "cuda:x"])
DTYPE = _name("float32", "float64")
ACT = _name("tanh", "erf", "relu", "linear")
INITS = ("gaussian", "orth", "delta-orth", "gs0", "gs2", "gs4")
SIGMA_W = _float(0.5, 2.0)
SIGMA_B = _float(0.0, 0.5)
Q_STAR = _float(0.01, 2.0)
FLAGS = st.sampled_from([[], ["--force"]])
WORKERS = st.just("1"), st.sampled_from(["0", "-1", "99999999999999999999999", "x"])

# ------------------------------------------------------------------ the nine commands
#: command -> (its options' strategies, the files a successful run writes, base args: small
#: values that the drawn options override, since click takes an option's last value)
COMMANDS: dict[str, tuple[dict, list[str], list[str]]] = {
    "jacobian": (
        {
            "--init": _name(*INITS),
            "--depth": _int(1, 3),
            "--channels": _int(1, 4),
            "--size": _int(1, 4),
            "--kernel": _int(1, 3),
            "--dim": _int(1, 2),
            "--activation": ACT,
            "--q-star": Q_STAR,
            "--sigma-w": SIGMA_W,
            "--sigma-b": SIGMA_B,
            "--method": _name("auto", "forward", "dense", "stable", "lanczos"),
            "--lanczos-steps": _int(2, 6),
            "--probes": _int(1, 2),
            "--native": _name("auto", "on", "off"),
            "--seed": SEED,
            "--device": DEVICE,
            "--dtype": DTYPE,
        },
        ["summary.csv", "jacobian.png", "run.json"],
        ["--no-theory", "--depth", "2", "--channels", "2", "--size", "2"],
    ),
    "density": (
        {
            "--weights": _name("gaussian", "orth"),
            "--depth": _int(1, 50),
            "--activation": ACT,
            "--q-star": Q_STAR,
            "--sigma-w": SIGMA_W,
            "--sigma-b": SIGMA_B,
            "--points": _int(16, 64),
            "--seed": SEED,
        },
        ["density.csv", "density.png", "run.json"],
        ["--points", "32"],
    ),
    "meanfield": (
        {
            "--sigma-w": SIGMA_W,
            "--sigma-b": SIGMA_B,
            "--activation": ACT,
            "--seed": SEED,
        },
        ["meanfield.csv", "run.json"],
        [],
    ),
    "phase": (
        {
            "--activation": ACT,
            "--points": _int(2, 6),
            "--sigma-w2-min": _float(0.1, 1.0),
            "--sigma-w2-max": _float(1.0, 4.0),
            "--sigma-b2-max": _float(0.01, 0.5),
            "--seed": SEED,
        },
        ["phase.csv", "critical_line.csv", "phase.png", "run.json"],
        ["--points", "4"],
    ),
    "modes": (
        {
            "--init": _names(*INITS),
            "--variance": _float_list(0.0, 1.0, 9),
            "--size": _int(1, 8),
            "--kernel": _int(1, 3),
            "--dim": _int(1, 2),
            "--sigma-w": SIGMA_W,
            "--sigma-b": SIGMA_B,
            "--activation": ACT,
            "--seed": SEED,
        },
        ["modes.csv", "modes.png", "run.json"],
        ["--size", "4"],
    ),
    "weights": (
        {
            "--dim": _int(1, 2),
            "--size": _int(1, 6),
            "--kernel": _int(1, 3),
            "--channels": _int_list(1, 4),
            "--seeds": _int(1, 2),
            "--seed": SEED,
            "--device": DEVICE,
            "--dtype": DTYPE,
        },
        ["singular_values.csv", "theory.csv", "ks.csv", "weights.png", "run.json"],
        ["--channels", "2", "--size", "4"],
    ),
    "train": (
        {
            "--init": _name(*INITS),
            "--depth": _int(1, 2),
            "--channels": _int(1, 2),
            "--steps": _int(0, 3),
            "--lr": _float(1e-4, 0.1),
            "--batch-size": _int(1, 8),
            "--optimizer": _name("sgd", "adam"),
            "--momentum": _float(0.0, 0.95),
            "--eval-every": _int(1, 3),
            "--eval-size": _int(1, 16),
            "--checkpoint-every": _int(1, 3),
            "--sigma-w": SIGMA_W,
            "--sigma-b": SIGMA_B,
            "--q-star": Q_STAR,
            "--lr-scaling": _name("depth", "qstar", "none"),
            "--threads": _int(0, 1),
            "--seed": SEED,
            "--device": DEVICE,
            "--dtype": DTYPE,
        },
        ["history.csv", "learning_curve.png", "run.json"],
        ["--dataset", "digits", *"--depth 1 --channels 2 --steps 2 --batch-size 4".split()]
        + "--eval-size 8 --eval-every 1".split(),
    ),
    "correlate": (
        {
            "--inits": _names(*INITS),
            "--depths": _int_list(1, 2, 2),
            "--seeds": _int_list(0, 3, 1),
            "--channels": _int(1, 2),
            "--steps": _int(1, 2),
            "--target": _float(0.05, 1.0),
            "--window": _int(1, 3),
            "--lr": _float(1e-4, 0.1),
            "--optimizer": _name("sgd", "adam"),
            "--momentum": _float(0.0, 0.95),
            "--batch-size": _int(1, 8),
            "--lr-scaling": _name("depth", "qstar", "none"),
            "--q-star": Q_STAR,
            "--statistic": _name("var_sq", "mean_sq"),
            "--workers": WORKERS,
            "--seed": SEED,
            "--device": DEVICE,
        },
        ["correlation.csv", "spearman.csv", "correlate.png", "run.json"],
        ["--dataset", "digits", *"--inits orth --depths 1,2,3 --steps 1 --channels 2".split()]
        + ["--batch-size", "4"],
    ),
    "trainability": (
        {
            "--init": _name(*INITS),
            "--sigma-w2": _float_list(0.5, 2.0, 2),
            "--sigma-b": SIGMA_B,
            "--depths": _int_list(1, 2, 2),
            "--channels": _int(1, 2),
            "--steps": _int(1, 2),
            "--lr": _float(1e-4, 0.1),
            "--optimizer": _name("sgd", "adam"),
            "--momentum": _float(0.0, 0.95),
            "--batch-size": _int(1, 8),
            "--lr-scaling": _name("depth", "qstar", "none"),
            "--workers": WORKERS,
            "--seed": SEED,
            "--device": DEVICE,
        },
        ["trainability.csv", "fit.csv", "xi_c.csv", "trainability.png", "run.json"],
        ["--dataset", "digits", *"--sigma-w2 1.0 --depths 1 --steps 1 --channels 2".split()]
        + ["--batch-size", "4"],
    ),
}
#: Options a command requires (always drawn, never omitted).
REQUIRED = {"density": {"--weights", "--depth"}}


@st.composite
def command_lines(draw, command: str) -> list[str]:
    """One command line: up to three options hostile, each other one valid or left out
    (a quarter of the examples have no hostile value, so that successful runs are common)."""
    options, _, base = COMMANDS[command]
    names = list(options)
    clean = draw(st.integers(0, 3)) == 0
    bad = set() if clean else draw(st.sets(st.sampled_from(names), min_size=1, max_size=3))
    args = [command, *base]
    for name in names:
        valid, hostile = options[name]
        if name in bad:
            args += [name, draw(hostile)]
        elif name in REQUIRED.get(command, ()) or draw(st.booleans()):
            args += [name, draw(valid)]
    return args + (draw(FLAGS) if clean else [])  # --force runs what it is given


def check_contract(args: list[str], outputs: list[str]) -> None:
    """Run ``args`` in-process into a fresh --out; assert the contract (module docstring)."""
    parent = Path(tempfile.mkdtemp(prefix="spectra-fuzz-"))
    out = parent / "out"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = CliRunner().invoke(CLI, [*args, "--out", str(out), "--quiet"])
        if LOG:
            with open(LOG, "a") as f:
                f.write(f"{res.exit_code} {' '.join(args)!r}\n")
        lines = res.stderr.strip().splitlines()
        where = f"spectra {' '.join(args)!r}"
        assert res.exit_code in (0, 2), f"{where}: exit {res.exit_code}: {res.exception!r}"
        if res.exit_code == 2:
            assert len(lines) == 1 and lines[0].startswith("spectra: error: "), (where, lines)
            assert [p.name for p in parent.iterdir()] == [], f"{where}: left files"
        else:
            missing = [
                f for f in outputs if not (out / f).is_file() or not (out / f).stat().st_size
            ]
            assert not missing, f"{where}: exit 0 without {missing}"
            assert [p.name for p in parent.iterdir()] == ["out"], f"{where}: left temp files"
            noisy = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
            assert not noisy and not lines, f"{where}: warnings on success: {noisy or lines}"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


#: Examples per command in the default profile (tests/conftest.py), 210 in all: fewer for
#: the commands whose successful runs take seconds. The slow profile runs 250 of each.
DEFAULT_EXAMPLES = {
    "jacobian": 25,
    "density": 15,
    "meanfield": 40,
    "phase": 20,
    "modes": 25,
    "weights": 25,
    "train": 25,
    "correlate": 20,
    "trainability": 15,
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_value_gives_complete_outputs_or_one_line_exit_2(command):
    outputs = COMMANDS[command][1]
    profile = settings()
    slow = os.environ.get("HYPOTHESIS_PROFILE", "default") != "default"
    n = profile.max_examples if slow else DEFAULT_EXAMPLES[command]

    @settings(profile, max_examples=n)
    @given(args=command_lines(command))
    def run(args):
        check_contract(args, outputs)

    run()
