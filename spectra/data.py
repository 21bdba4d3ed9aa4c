"""Offline image datasets: MNIST / Fashion-MNIST (IDX), CIFAR-10 (python pickles), digits.

Nothing here downloads. Every loader reads files already on disk and returns a
:class:`Dataset` of float32 image tensors ``(N, C, H, W)`` standardised with the
*training* set's per-channel mean and standard deviation, and int64 labels ``(N,)``.

Where the files are looked for, in order:

* ``data_dir`` itself, then ``data_dir/<name>`` (for ``cifar10`` also
  ``data_dir/cifar-10-batches-py``);
* ``/usr/share/datasets/<name>`` — where Debian's ``dataset-fashion-mnist`` package puts
  Fashion-MNIST, so that dataset is found without configuration when it is installed.

``digits`` is scikit-learn's bundled 8×8 digits (1,797 images, no files needed); its
split is fixed: the first 1,500 images train, the last 297 test.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import SpectraError

__all__ = [
    "DATASETS",
    "Dataset",
    "read_idx",
    "load_idx_dataset",
    "load_cifar10",
    "load_digits",
    "load_dataset",
    "SYSTEM_DATA_DIR",
]

#: Where distribution packages (Debian ``dataset-*``) install data sets.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")

DATASETS = ("fashion-mnist", "mnist", "cifar10", "digits")

_HOW_TO_GET = {
    "fashion-mnist": (
        "install the Debian package dataset-fashion-mnist, or put train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        "from https://github.com/zalandoresearch/fashion-mnist into --data-dir"
    ),
    "mnist": (
        "put train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), "
        "t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) from "
        "http://yann.lecun.com/exdb/mnist/ into --data-dir"
    ),
    "cifar10": (
        "extract cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
        "into --data-dir (the folder cifar-10-batches-py with data_batch_1..5 and test_batch)"
    ),
}

#: Smallest image side the networks accept (their 3x3 circular convolutions).
MIN_IMAGE_SIZE = 3
#: Labels of every data set here are the classes 0..9.
NUM_CLASSES = 10

# IDX type codes -> big-endian numpy dtypes.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class Dataset:
    """A classification data set held in memory.

    ``x_train``/``x_test``: float32 ``(N, C, H, W)``, standardised per channel with the
    training mean/std; ``y_train``/``y_test``: int64 ``(N,)`` in ``[0, num_classes)``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])


def _read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, un-gzipped if it is gzip (by magic); one-line SpectraError
    naming the file if it is unreadable, truncated or fails its CRC."""
    try:
        raw = path.read_bytes()
        if raw[:2] != b"\x1f\x8b":
            return raw
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise SpectraError(f"{path}: cannot read it ({e or type(e).__name__})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a numpy array in native byte order.

    Format: two zero bytes, a type code (0x08 ubyte … 0x0E float64), the number of
    dimensions, then that many big-endian uint32 sizes, then the data, big-endian.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SpectraError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SpectraError(f"{path}: IDX header cut short ({len(raw)} bytes)")
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if len(raw) - header != count * dtype.itemsize:
        raise SpectraError(
            f"{path}: IDX header says shape {shape} ({count * dtype.itemsize} bytes) but "
            f"the data size is {len(raw) - header} bytes"
        )
    return np.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _check_split(
    what: str, x: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...] | None = None
) -> None:
    """One-line SpectraError unless ``x`` (N, C, H, W) and labels ``y`` (N,) make a usable
    split: N >= 1, square images of side >= MIN_IMAGE_SIZE (the same as the training
    images' ``image_shape``), integer labels in 0..9."""
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
        raise SpectraError(f"{what}: images {x.shape} do not match labels {y.shape}")
    if len(x) == 0:
        raise SpectraError(f"{what}: holds no images")
    side = x.shape[-1]
    if x.shape[-2] != side or side < MIN_IMAGE_SIZE:
        raise SpectraError(
            f"{what}: images are {x.shape[-2]}x{side}; need square images of at least "
            f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}"
        )
    if image_shape is not None and x.shape[1:] != image_shape:
        raise SpectraError(
            f"{what}: images are {'x'.join(map(str, x.shape[1:]))} but the training "
            f"images are {'x'.join(map(str, image_shape))}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise SpectraError(f"{what}: labels are {y.dtype}, not integers")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= NUM_CLASSES:
        raise SpectraError(
            f"{what}: labels range over {lo}..{hi}; they must be classes 0..{NUM_CLASSES - 1}"
        )


def _candidates(name: str, data_dir: str | os.PathLike | None, extra: tuple[str, ...] = ()):
    dirs: list[Path] = []
    if data_dir is not None:
        d = Path(data_dir)
        dirs += [d, d / name, *(d / e for e in extra)]
    dirs.append(SYSTEM_DATA_DIR / name)
    return dirs


def _find_idx(directory: Path, stem: str) -> Path | None:
    # The canonical name and the variant with a dot before "idx" (as some mirrors ship).
    variants = [stem, stem.replace("-idx", ".idx")]
    for v in variants:
        for suffix in (".gz", ""):
            p = directory / f"{v}{suffix}"
            if p.is_file():
                return p
    return None


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (mean 0, std 1) using the training statistics; float32 (N,C,H,W)."""
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    xs = torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float32))
    mean = xt.mean(dim=(0, 2, 3), keepdim=True, dtype=torch.float64)
    std = xt.to(torch.float64).std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-12)
    norm = lambda x: ((x.to(torch.float64) - mean) / std).to(torch.float32)  # noqa: E731
    return norm(xt), norm(xs)


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """MNIST or Fashion-MNIST from the four IDX files (gz or not). See the module doc."""
    stems = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for d in _candidates(name, data_dir):
        found = {k: _find_idx(d, s) for k, s in stems.items()}
        if all(found.values()):
            arr = {k: read_idx(p) for k, p in found.items()}
            for split in ("train", "test"):
                x, y = arr[f"x_{split}"], arr[f"y_{split}"]
                if x.ndim != 3:
                    raise SpectraError(f"{found[f'x_{split}']}: images {x.shape}, not (N, H, W)")
                _check_split(
                    f"{found[f'x_{split}']} with {found[f'y_{split}'].name}",
                    x[:, None],
                    y,
                    None if split == "train" else (1, *arr["x_train"].shape[1:]),
                )
            x_train, x_test = _standardise(arr["x_train"][:, None], arr["x_test"][:, None])
            return Dataset(
                name,
                x_train,
                torch.from_numpy(arr["y_train"].astype(np.int64)),
                x_test,
                torch.from_numpy(arr["y_test"].astype(np.int64)),
                num_classes=10,
            )
    raise SpectraError(f"{name} not found; {_HOW_TO_GET[name]}")


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles plain data only: dicts, lists, bytes, str, numbers and numpy arrays.

    Any other global a pickle names (the way a crafted file runs code) is refused.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a data batch never does")


def _read_cifar_batch(path: Path, image_shape=None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one CIFAR-10 python batch."""
    try:
        with open(path, "rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError, OSError) as e:  # fmt: skip
        raise SpectraError(f"{path} is not a CIFAR-10 batch ({e or type(e).__name__})") from None
    if not isinstance(d, dict):
        raise SpectraError(f"{path} is not a CIFAR-10 batch (a {type(d).__name__}, not a dict)")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise SpectraError(f"{path} is not a CIFAR-10 batch (no data/labels)")
    try:
        data = np.asarray(data)
        labels = np.asarray(labels)
        ok = data.ndim == 2 and data.shape[1] == 3 * 32 * 32 and labels.ndim == 1
    except (ValueError, TypeError):
        ok = False
    if not ok or not np.issubdtype(data.dtype, np.integer) or data.min(initial=0) < 0:
        raise SpectraError(f"{path}: data must be N rows of 3072 bytes with N labels")
    if data.max(initial=0) > 255:
        raise SpectraError(f"{path}: pixel values exceed 255")
    x = data.astype(np.uint8).reshape(-1, 3, 32, 32)
    _check_split(str(path), x, labels, image_shape)
    return x, labels.astype(np.int64)


def load_cifar10(data_dir: str | os.PathLike | None = None) -> Dataset:
    """CIFAR-10 from its python pickle batches ``data_batch_1..5`` and ``test_batch``."""
    for d in _candidates("cifar10", data_dir, extra=("cifar-10-batches-py",)):
        train = [d / f"data_batch_{i}" for i in range(1, 6)]
        test = d / "test_batch"
        if all(p.is_file() for p in train) and test.is_file():
            parts = [_read_cifar_batch(p) for p in train]
            xt, yt = _read_cifar_batch(test)
            x_train, x_test = _standardise(np.concatenate([p[0] for p in parts]), xt)
            y_train = torch.from_numpy(np.concatenate([p[1] for p in parts]))
            return Dataset("cifar10", x_train, y_train, x_test, torch.from_numpy(yt), 10)
    raise SpectraError(f"cifar10 not found; {_HOW_TO_GET['cifar10']}")


def load_digits() -> Dataset:
    """scikit-learn's bundled 8×8 digits; first 1,500 train, last 297 test."""
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:  # pragma: no cover - scikit-learn is a declared extra
        raise SpectraError(
            "the digits dataset needs scikit-learn: pip install 'spectra[data]'"
        ) from None
    bunch = _sk_digits()
    x = bunch.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)
    x_train, x_test = _standardise(x[:1500], x[1500:])
    return Dataset(
        "digits", x_train, torch.from_numpy(y[:1500]), x_test, torch.from_numpy(y[1500:]), 10
    )


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load ``name`` (one of :data:`DATASETS`) from disk; one-line SpectraError if missing."""
    if name in ("fashion-mnist", "mnist"):
        return load_idx_dataset(name, data_dir)
    if name == "cifar10":
        return load_cifar10(data_dir)
    if name == "digits":
        return load_digits()
    raise SpectraError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
