"""The shared CLI machinery: one-line errors with exit 2, atomic outputs, run.json."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from spectra.cli.common import (
    DeviceOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    SpectraGroup,
    command_run,
    parse_int_list,
    resolve_device,
)
from spectra.errors import SpectraError


def _toy_app() -> typer.Typer:
    app = typer.Typer(cls=SpectraGroup, add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def make(
        out: OutOpt,
        n: int = typer.Option(1, min=1),
        fail: bool = False,
        seed: SeedOpt = 0,
        device: DeviceOpt = "cpu",
        quiet: QuietOpt = False,
    ) -> None:
        with command_run(out, seed=seed, device=resolve_device(device), quiet=quiet) as ctx:
            (ctx.folder / "a.csv").write_text("x\n1\n")
            if fail:
                raise SpectraError("the toy failed\non purpose")

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the group
        pass

    return app


def test_success_writes_files_and_run_json(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(_toy_app(), ["make", "--out", str(out), "--seed", "7"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 7 and meta["device"] == "cpu" and meta["seconds"] >= 0
    assert "torch" in meta["versions"]
    assert (out / "a.csv").read_text() == "x\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temp folder left behind


def test_library_error_is_one_line_exit_2_no_files(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(_toy_app(), ["make", "--out", str(out), "--fail"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "spectra: error: the toy failed on purpose"
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_usage_error_is_one_line_exit_2(tmp_path):
    res = CliRunner().invoke(_toy_app(), ["make", "--out", str(tmp_path / "o"), "--n", "0"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectra: error:") and "--n" in lines[0]
    res = CliRunner().invoke(_toy_app(), ["make", "--bogus"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1


def test_bad_device_and_int_list():
    res = CliRunner().invoke(_toy_app(), ["make", "--out", "x", "--device", "tpu"])
    assert res.exit_code == 2 and "unknown device" in res.stderr
    assert parse_int_list("2, 4,8", "--channels") == [2, 4, 8]
    for bad in ("", "a,b", "0,2"):
        try:
            parse_int_list(bad, "--channels")
        except SpectraError as e:
            assert "--channels" in str(e)
        else:
            raise AssertionError(bad)


def test_lists_refuse_empty_items_and_out_of_range_values():
    import pytest

    from spectra.cli.common import parse_float_list, parse_name_list

    assert parse_int_list(" 2, 4 ", "--depths") == [2, 4]
    assert parse_float_list("0.5,1", "--sigma-w2", positive=True) == [0.5, 1.0]
    assert parse_name_list("gs0,gs4", "--init", ["gs0", "gs4"]) == ["gs0", "gs4"]
    bad = [
        (lambda: parse_int_list("2,,4", "--depths"), "--depths has an empty item in '2,,4'"),
        (lambda: parse_int_list("2,", "--depths"), "empty item"),
        (lambda: parse_int_list("", "--depths"), "must list at least one"),
        (lambda: parse_int_list("1e3", "--depths"), "comma-separated list of integers"),
        (lambda: parse_int_list("0", "--depths"), "each --depths value must be >= 1"),
        (lambda: parse_int_list("9" * 30, "--depths"), "in 1..9223372036854775807"),
        (lambda: parse_float_list("1,nan", "--sigma-w2"), "finite"),
        (lambda: parse_float_list("1,1e400", "--sigma-w2"), "finite"),
        (lambda: parse_name_list(",,,", "--init", ["gs0"]), "empty item"),
        (lambda: parse_name_list("gs0,gs0", "--init", ["gs0"]), "more than once"),
        (lambda: parse_name_list("gs9", "--init", ["gs0"]), "unknown --init 'gs9'"),
    ]
    for call, text in bad:
        with pytest.raises(SpectraError) as e:
            call()
        assert text in str(e.value) and "\n" not in str(e.value)
