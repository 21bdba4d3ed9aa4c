"""Offline readers: IDX (plain and gzip), CIFAR-10 pickles, digits, missing-data errors.

The test files are written byte by byte here (struct + gzip + pickle), independently of
spectra.data, in the published formats: IDX magic 0x00000803 (ubyte, 3-D) for images and
0x00000801 for labels, big-endian uint32 sizes; CIFAR batches are pickled dicts with
b"data" (N x 3072 uint8, channel-major) and b"labels".
"""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from spectra.data import load_dataset, read_idx
from spectra.errors import SpectraError


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    dt = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    return head + arr.astype(dt).tobytes()


def _write_mnist(folder, rng, n_train=12, n_test=5, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, a in arrays.items():
        data = _idx_bytes(a)
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(data)
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dataset_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    arrays = _write_mnist(tmp_path / "mnist", rng, gz=gz)
    ds = load_dataset("mnist", tmp_path)  # found in data_dir/<name>
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (5, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    np.testing.assert_array_equal(ds.y_train.numpy(), arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_test.numpy(), arrays["t10k-labels-idx1-ubyte"])
    # standardisation is an affine map of the raw pixels with the *training* statistics
    raw = arrays["train-images-idx3-ubyte"].astype(np.float64)
    expect = (raw - raw.mean()) / raw.std(ddof=1)
    np.testing.assert_allclose(ds.x_train[:, 0].numpy(), expect, atol=1e-5)  # float32 rounding
    raw_t = arrays["t10k-images-idx3-ubyte"].astype(np.float64)
    np.testing.assert_allclose(
        ds.x_test[:, 0].numpy(), (raw_t - raw.mean()) / raw.std(ddof=1), atol=1e-5
    )


def test_read_idx_other_types_and_bad_magic(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    (tmp_path / "f.idx").write_bytes(_idx_bytes(a, 0x0D))
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), a)  # exact: float32 both ways
    b = np.array([-3, 0, 1000], dtype=np.int16)
    (tmp_path / "s.idx").write_bytes(_idx_bytes(b, 0x0B))
    np.testing.assert_array_equal(read_idx(tmp_path / "s.idx"), b)
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01" + b"\0" * 8)
    with pytest.raises(SpectraError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(_idx_bytes(b, 0x0B)[:-1])
    with pytest.raises(SpectraError, match="size"):
        read_idx(tmp_path / "short")


def test_cifar10_pickles(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.in_channels == 3 and ds.image_size == 32
    raw = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)]).astype(float)
    raw = raw.reshape(-1, 3, 32, 32)
    # channel 1 of image 7, pixel (5, 9): CIFAR rows are R(1024) G(1024) B(1024), row-major
    flat = batches["data_batch_2"][0][3]  # image 7 = batch 2, index 3
    assert raw[7, 1, 5, 9] == flat[1024 + 5 * 32 + 9]
    mean, std = raw[:, 1].mean(), raw[:, 1].std(ddof=1)
    assert abs(float(ds.x_train[7, 1, 5, 9]) - (raw[7, 1, 5, 9] - mean) / std) < 1e-5
    assert ds.y_test.tolist() == batches["test_batch"][1]


def test_digits_split():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1500, 1, 8, 8) and ds.x_test.shape == (297, 1, 8, 8)
    assert set(ds.y_train.tolist()) == set(range(10))
    assert abs(float(ds.x_train.mean())) < 1e-5  # standardised (float32 sum rounding)


def test_missing_dataset_one_line(tmp_path):
    with pytest.raises(SpectraError) as e:
        load_dataset("cifar10", tmp_path)
    assert "cifar10 not found" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SpectraError, match="unknown dataset"):
        load_dataset("imagenet")


def test_fashion_mnist_found_without_configuration():
    from spectra.data import SYSTEM_DATA_DIR

    if not (SYSTEM_DATA_DIR / "fashion-mnist").is_dir():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10  # the published class balance
