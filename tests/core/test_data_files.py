"""Corrupt and odd data files: each is refused with one line naming the file.

The files are made here byte by byte (struct, gzip, pickle) from a valid set, then
broken one way per case; the classes are the ways a file can be wrong: its container
(gzip truncated, garbage, bad CRC), its IDX header (magic, rank, sizes vs bytes), its
content (labels outside 0..9, image sizes the network cannot take, a test set of
another size) and, for CIFAR-10, the pickle (not a dict, wrong rows, code in it).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from spectra.cli import app
from spectra.data import load_dataset
from spectra.errors import SpectraError

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x09: ">i1"}[code]
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(dt).tobytes()


def _arrays(side=8, test_side=None, n=12):
    rng = np.random.default_rng(0)
    return {
        "x_train": (rng.integers(0, 256, (n, side, side)), 0x08),
        "y_train": (rng.integers(0, 10, n), 0x08),
        "x_test": (rng.integers(0, 256, (5, test_side or side, test_side or side)), 0x08),
        "y_test": (rng.integers(0, 10, 5), 0x08),
    }


def _write(folder, arrays, raw: dict | None = None):
    """Gzip IDX files in ``folder``; ``raw[key]`` replaces a file's bytes on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, (a, code) in arrays.items():
        data = gzip.compress(_idx(a, code), mtime=0)
        (folder / f"{FILES[key]}.gz").write_bytes((raw or {}).get(key, data))


def _bad_crc(data: bytes) -> bytes:
    gz = bytearray(gzip.compress(data, mtime=0))
    gz[-8] ^= 0xFF  # the CRC-32 field of the gzip trailer
    return bytes(gz)


def _valid_labels_gz() -> bytes:
    return gzip.compress(_idx(np.arange(12) % 10), mtime=0)


CONTAINER = {
    "truncated gzip": lambda: _valid_labels_gz()[:-12],
    "garbage after gzip magic": lambda: b"\x1f\x8b" + os.urandom(64),
    "bad CRC": lambda: _bad_crc(_idx(np.arange(12) % 10)),
    "raw deflate, not gzip": lambda: zlib.compress(_idx(np.arange(12) % 10)),
    "empty file": lambda: b"",
}
HEADER = {
    "wrong magic": lambda: gzip.compress(b"\x00\x01\x08\x01" + struct.pack(">I", 12) + bytes(12)),
    "header cut short": lambda: gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">I", 12)),
    "sizes vs bytes (a row short)": lambda: gzip.compress(_idx(np.arange(12) % 10)[:-1]),
    "rank 2 labels": lambda: gzip.compress(_idx((np.arange(12) % 10).reshape(3, 4))),
}


@pytest.mark.parametrize("case", sorted(CONTAINER) + sorted(HEADER))
def test_broken_idx_file_refused_naming_it(tmp_path, case):
    make = {**CONTAINER, **HEADER}[case]
    _write(tmp_path, _arrays(), raw={"y_train": make()})
    with pytest.raises(SpectraError) as e:
        load_dataset("mnist", tmp_path)
    msg = str(e.value)
    assert "train-labels-idx1-ubyte" in msg and "\n" not in msg, msg


@pytest.mark.parametrize(
    ("case", "arrays", "words"),
    [
        ("label 10", {"y_train": (np.array([10] + [0] * 11), 0x08)}, "0..9"),
        ("label 255", {"y_test": (np.array([255, 0, 0, 0, 0]), 0x08)}, "0..9"),
        ("negative label (int8 IDX)", {"y_train": (np.array([-1] + [0] * 11), 0x09)}, "0..9"),
        ("1x1 images", {"x_train": (np.ones((12, 1, 1)), 0x08)}, "at least"),
        ("2x2 images", {"x_train": (np.ones((12, 2, 2)), 0x08)}, "at least"),
        ("non-square images", {"x_train": (np.ones((12, 8, 6)), 0x08)}, "square"),
        ("no images", {"x_train": (np.ones((0, 8, 8)), 0x08)}, "no images"),
        ("label count differs", {"y_train": (np.zeros(11), 0x08)}, "do not match"),
    ],
)
def test_odd_idx_content_refused(tmp_path, case, arrays, words):
    full = {**_arrays(), **arrays}
    if case == "no images":
        full["y_train"] = (np.zeros(0), 0x08)
    _write(tmp_path, full)
    with pytest.raises(SpectraError, match=words) as e:
        load_dataset("mnist", tmp_path)
    assert "-idx" in str(e.value)


def test_test_set_of_another_image_size_refused(tmp_path):
    _write(tmp_path, _arrays(side=8, test_side=10))
    with pytest.raises(SpectraError, match="training images are 1x8x8") as e:
        load_dataset("mnist", tmp_path)
    assert "t10k-images-idx3-ubyte" in str(e.value)


def test_cli_refuses_the_once_silent_cases_with_no_files(tmp_path):
    """Labels out of range and 1x1 images used to train with exit 0."""
    for i, arrays in enumerate(
        [{"y_train": (np.array([12] + [0] * 11), 0x08)}, {"x_train": (np.ones((12, 1, 1)), 0x08)}]
    ):
        data = tmp_path / f"data{i}"
        _write(data, {**_arrays(), **arrays})
        out = tmp_path / f"out{i}"
        args = ["train", "--dataset", "mnist", "--data-dir", str(data), "--out", str(out)]
        r = CliRunner().invoke(app, [*args, "--steps", "2", "--depth", "2", "-q"])
        assert r.exit_code == 2, r.output
        assert len(r.output.strip().splitlines()) == 1 and "idx" in r.output
        assert sorted(os.listdir(tmp_path)) == sorted(f"data{j}" for j in range(i + 1)), (
            "nothing beside the data may be written"
        )


# -- CIFAR-10 ---------------------------------------------------------------------


def _cifar(folder, batch=None, test=None, n=4):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    good = {
        b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"batch_label": b"training batch",
        b"filenames": [b"x.png"] * n,
    }
    for i in range(1, 6):
        obj = batch if (batch is not None and i == 3) else good
        (folder / f"data_batch_{i}").write_bytes(
            obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
        )
    (folder / "test_batch").write_bytes(pickle.dumps(test if test is not None else good))


def test_cifar_real_layout_still_loads(tmp_path):
    _cifar(tmp_path)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)


@pytest.mark.parametrize(
    ("case", "batch"),
    [
        ("a list, not a dict", [1, 2, 3]),
        ("no labels", {b"data": np.zeros((4, 3072), np.uint8)}),
        ("label 10", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]}),
        ("label -1", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, -1]}),
        ("string labels", {b"data": np.zeros((4, 3072), np.uint8), b"labels": ["a"] * 4}),
        ("row of 3071 bytes", {b"data": np.zeros((4, 3071), np.uint8), b"labels": [0] * 4}),
        ("pixels above 255", {b"data": np.full((4, 3072), 300), b"labels": [0] * 4}),
        ("labels count differs", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3}),
        ("truncated pickle", pickle.dumps({b"data": np.zeros((4, 3072), np.uint8)})[:-20]),
        ("garbage", b"\x80\x04not a pickle at all"),
    ],
)
def test_bad_cifar_batch_refused_naming_it(tmp_path, case, batch):
    _cifar(tmp_path, batch=batch)
    with pytest.raises(SpectraError) as e:
        load_dataset("cifar10", tmp_path)
    msg = str(e.value)
    assert "data_batch_3" in msg and "\n" not in msg, msg


class _Payload:
    """Unpickling this would run ``os.system`` (what a crafted batch does)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


@pytest.mark.parametrize("where", ["top level", "inside the dict"])
def test_crafted_cifar_batch_never_runs_its_code(tmp_path, where):
    marker = tmp_path / "marker"
    payload = _Payload(f"touch {marker}")
    batch = payload if where == "top level" else {b"data": payload, b"labels": [0]}
    _cifar(tmp_path / "c", batch=pickle.dumps(batch, protocol=2))
    with pytest.raises(SpectraError, match="data_batch_3.*os|data_batch_3.*posix|system"):
        load_dataset("cifar10", tmp_path / "c")
    assert not marker.exists()
    # the same bytes through the plain loader do run the code: the test can fail
    pickle.loads(pickle.dumps(batch, protocol=2))
    assert marker.exists()
