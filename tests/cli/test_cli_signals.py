"""Signals: SIGINT, SIGTERM and SIGHUP end a run cleanly (exit 128 + the signal);
after a kill -9 the next run on the same --out removes what the killed one left.

A small command on the shared machinery (command_run) runs in a child process and
waits inside its body, so the signal lands mid-run, with its staging folder present.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from spectra.cli.common import command_run

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import typer
    from spectra.cli.common import OutOpt, SpectraGroup, command_run

    app = typer.Typer(cls=SpectraGroup, add_completion=False)

    @app.command()
    def slow(out: OutOpt, resume: bool = False) -> None:
        keep = ("state",) if resume else ()
        with command_run(out, seed=0, device=None, quiet=True, resume=keep) as ctx:
            (ctx.folder / "state").write_text("half")
            print("ready", flush=True)
            time.sleep(60)

    @app.command()
    def other() -> None:
        pass

    app()
    """
)


def _start(tmp_path, *extra):
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, str(script), "slow", "--out", str(tmp_path / "D"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _beside(tmp_path):
    return sorted(n for n in os.listdir(tmp_path) if n != "toy.py")


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, "spectra: interrupted by SIGTERM"),
        (signal.SIGHUP, 129, "spectra: interrupted by SIGHUP"),
        (signal.SIGINT, 130, "spectra: interrupted by SIGINT"),
    ],
)
def test_signal_mid_run_cleans_up_and_exits_128_plus_signal(tmp_path, sig, code, line):
    proc = _start(tmp_path)
    assert any(n.startswith(".D.tmp-") for n in os.listdir(tmp_path))  # mid-run
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err.strip().splitlines() == [line], err
    assert _beside(tmp_path) == []  # no staging, no lock, no --out


def test_sigterm_keeps_resume_state_for_the_rerun(tmp_path):
    proc = _start(tmp_path, "--resume")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143 and _beside(tmp_path) == [".D.resume"]
    assert (tmp_path / ".D.resume" / "state").read_text() == "half"


def test_after_kill9_the_next_run_leaves_no_tmp_folder(tmp_path):
    proc = _start(tmp_path)
    proc.kill()
    proc.wait()
    assert [n for n in _beside(tmp_path) if n.startswith(".D.tmp-")], "nothing to clean"
    with command_run(tmp_path / "D", seed=0, device=None, quiet=True) as ctx:
        (ctx.folder / "state").write_text("whole")
    assert _beside(tmp_path) == ["D"] and (tmp_path / "D" / "run.json").exists()
