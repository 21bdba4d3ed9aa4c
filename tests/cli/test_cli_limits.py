"""Hostile option values and impossible sizes: refused in one line, exit 2, no files.

The cases a systematic sweep of the nine commands found (overflowing integers and
floats, malformed lists, unknown names, jobs whose memory or time cannot fit), each run
in-process; tests/cli/test_cli_fuzz.py covers the classes with random draws.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from spectra.cli import app, cost as cost_mod

BIG = "99999999999999999999999"

CASES = [
    (["jacobian", "--channels", "9223372036854775807", "--depth", "2"], "--channels"),
    (["jacobian", "--depth", "2", "--seed", "18446744073709551615"], "--seed"),
    (["jacobian", "--depth", "2", "--sigma-w", "1e300", "--sigma-b", "0"], "--sigma-w"),
    (
        ["density", "--weights", "orth", "--depth", "2", "--sigma-w", "1e300", "--sigma-b", "0"],
        "--sigma-w",
    ),
    (["meanfield", "--sigma-w", "1e300", "--sigma-b", "0"], "--sigma-w"),
    (["modes", "--sigma-w", "1e300", "--sigma-b", "0"], "--sigma-w"),
    (["train", "--sigma-w", "1e300", "--sigma-b", "0"], "--sigma-w"),
    (["jacobian", "--depth", "2", "--q-star", "1e300"], "--q-star"),
    (["density", "--weights", "orth", "--depth", "2", "--q-star", "1e300"], "--q-star"),
    (["train", "--q-star", "1e300"], "--q-star"),
    (["density", "--weights", "orth", "--depth", "2", "--points", BIG], "--points"),
    (["weights", "--seeds", BIG], "--seeds"),
    (["train", "--lr", "1e300"], "--lr"),
    (["train", "--lr", "1e38"], "--lr"),
    (["train", "--threads", BIG], "--threads"),
    (["jacobian", "--depth", BIG], "--depth"),
    (["train", "--depth", BIG], "--depth"),
    (["train", "--steps", BIG], "--steps"),
    (["correlate", "--depths", BIG], "--depths"),
    (["jacobian", "--channels", "2,,4"], "--channels"),
    (["weights", "--channels", "2,,4"], "--channels"),
    (["correlate", "--depths", "2,,4"], "--depths"),
    (["correlate", "--seeds", "1,,2"], "--seeds"),
    (["correlate", "--inits", "orth,,gaussian"], "--inits"),
    (["modes", "--init", "gs0,,gs4"], "--init"),
    (["modes", "--init", ""], "--init"),
    (["modes", "--init", ",,,"], "--init"),
    (["modes", "--variance", "1,,0,0,0,0,0,0,0"], "--variance"),
    (["trainability", "--sigma-w2", "1,,2"], "--sigma-w2"),
    (["phase", "--sigma-w2-max", "inf"], "--sigma-w2-max"),
    (["phase", "--points", "100000"], "--points"),
    (["modes", "--size", "100000000"], "--size"),
    (["jacobian", "--channels", "4096", "--size", "64"], "--channels 4096 --size 64"),
    (["jacobian", "--depth", str(10**20)], "estimated"),
    (["jacobian", "--channels", str(10**6)], "estimated"),
    (["train", "--steps", str(10**20)], "estimated"),
]


@pytest.mark.parametrize("args, needle", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_hostile_value_is_one_line_exit_2_no_files(tmp_path, args, needle):
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [*args, "--out", str(out), "--quiet"])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2, (res.exit_code, res.exception, lines)
    assert len(lines) == 1 and lines[0].startswith("spectra: error: ") and needle in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["jacobian", "--depth", str(10**20)],
        ["jacobian", "--channels", str(10**6)],
        ["train", "--steps", str(10**20)],
        ["phase", "--points", "100000"],
        ["modes", "--size", "100000000"],
    ],
)
def test_impossible_job_message_gives_the_estimate_and_the_allowance(tmp_path, args):
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), "--quiet"])
    line = res.stderr.strip()
    assert res.exit_code == 2 and "refused before starting" in line
    for word in ("of memory", "available now", "7 days", "--force"):
        assert word in line, line


def test_force_lets_a_job_over_the_time_limit_start(tmp_path, monkeypatch):
    """With the limit lowered below a tiny job's estimate, the job is refused, and
    --force runs it to complete outputs."""
    monkeypatch.setattr(cost_mod, "TIME_LIMIT_S", 1e-12)
    args = ["phase", "--points", "3", "--out", str(tmp_path / "o"), "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "refused before starting" in res.stderr
    res = CliRunner().invoke(app, [*args, "--force"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "phase.csv").is_file()


def test_memory_refusal_uses_what_is_available(monkeypatch, tmp_path):
    """A 3 x 3 phase grid fits any machine, but not one with 1 MiB available: the
    refusal reports that allowance."""
    args = ["phase", "--points", "3", "--out", str(tmp_path / "o"), "--quiet"]
    monkeypatch.setattr(cost_mod, "available_memory", lambda: 2**20)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert "1 MiB (available now)" in res.stderr
    assert not (tmp_path / "o").exists()
