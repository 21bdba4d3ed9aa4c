"""Training the paper's vanilla tanh CNN: seeded, resumable, with learning curves.

The model is :class:`spectra.network.VanillaCNN` (stem, ``depth`` circular convs, average
pool, linear head), initialised by name at the critical point with q* = 1/depth unless
told otherwise ([T16], :func:`spectra.meanfield.operating_point`). No batch norm, no
residuals, no learning-rate decay.

:func:`train` appends one ``history.csv`` row per step (``split=train``: the loss and
accuracy of the mini-batch the step trained on, measured before its update) and one per
evaluation (``split=test``: the whole test set, or its first ``eval_size`` images, after
``step`` updates). Columns: ``step, epoch, split, loss, accuracy, seconds`` (cumulative
training wall time, excluding evaluation and I/O; the only column that differs between
two runs of the same seed) and the config columns ``dataset, init, depth, channels,
optimizer, lr, seed``.

Resumption. Every ``checkpoint_every`` steps (and at the end) ``checkpoint.pt`` is written
atomically with the model, the optimiser state, the step count and the clock. The data
order needs no saved state: epoch e visits the training set in the permutation drawn
from a generator seeded with ``(seed, e)``. Running :func:`train` again on the same
folder loads the checkpoint, drops the history rows after it and carries on, so the
finished ``history.csv`` holds every step exactly once and matches an uninterrupted
run row for row (except ``seconds``).

What the ultra-deep regime needs lives in :mod:`spectra.regime` (re-exported here):
the :class:`Classifier` with its matched input and 1/sqrt(q*) readout, per-group
learning rates (:func:`lr_factors`) and denormal flushing (:func:`configure_numerics`);
the README (training section) has the measurements.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from ..data import DATASETS, Dataset, load_dataset
from ..errors import SpectraError
from ._regime import (
    build_model,
    configure_numerics,
    make_optimizer,
)

HISTORY_COLUMNS = [
    "step",
    "epoch",
    "split",
    "loss",
    "accuracy",
    "seconds",
    "dataset",
    "init",
    "depth",
    "channels",
    "optimizer",
    "lr",
    "seed",
]

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``steps`` may grow between resumptions; nothing else may.

    ``lr`` is the base learning rate; each parameter group uses ``lr`` times its factor
    from :func:`lr_factors` (``lr_scaling``: ``"depth"``, the default, ``"qstar"``
    for depths of ~1,000 and more, or ``"none"``). ``match_input`` and
    ``readout_scale``: see :class:`Classifier`.
    ``sigma_w``/``sigma_b``/``q_star`` override the default operating point (critical,
    q* = 1/depth). ``eval_size=None`` evaluates on the whole test set.
    """

    dataset: str = "fashion-mnist"
    init: str = "delta-orth"
    depth: int = 10
    channels: int = 16
    steps: int = 1000
    lr: float = 5e-2
    batch_size: int = 100
    optimizer: str = "sgd"
    momentum: float = 0.9
    eval_every: int = 100
    eval_size: int | None = None
    checkpoint_every: int = 50
    sigma_w: float | None = None
    sigma_b: float | None = None
    q_star: float | None = None
    activation: str = "tanh"
    kernel: int = 3
    dtype: str = "float32"
    lr_scaling: str = "depth"
    match_input: bool = True
    readout_scale: bool = True
    seed: int = 0
    block_route: str = "auto"
    segment: int = 0

    def validate(self) -> None:
        """One-line :class:`SpectraError` for any impossible setting (checked up front)."""
        from ..kernels import INIT_NAMES

        if self.dataset not in DATASETS:
            raise SpectraError(f"unknown dataset {self.dataset!r}; choose {', '.join(DATASETS)}")
        if self.init not in INIT_NAMES:
            raise SpectraError(f"unknown init {self.init!r}; choose {', '.join(INIT_NAMES)}")
        if self.optimizer not in OPTIMIZERS:
            raise SpectraError(f"unknown optimizer {self.optimizer!r}; choose sgd or adam")
        if self.lr_scaling not in ("depth", "qstar", "none"):
            raise SpectraError(f"lr_scaling must be depth, qstar or none, got {self.lr_scaling!r}")
        if self.block_route not in ("auto", "native", "torch"):
            raise SpectraError(
                f"block_route must be auto, native or torch, got {self.block_route!r}"
            )
        if self.segment < 0:
            raise SpectraError(f"segment must be >= 0, got {self.segment}")
        if self.dtype not in ("float32", "float64"):
            raise SpectraError(f"dtype must be float32 or float64, got {self.dtype!r}")
        for name in ("depth", "channels", "batch_size", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise SpectraError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps < 0:
            raise SpectraError(f"steps must be >= 0, got {self.steps}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise SpectraError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise SpectraError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.eval_size is not None and self.eval_size < 1:
            raise SpectraError(f"eval_size must be >= 1, got {self.eval_size}")
        if self.q_star is not None and (self.sigma_w is not None or self.sigma_b is not None):
            raise SpectraError("give either q_star or sigma_w/sigma_b, not both")
        if self.q_star is not None and not (self.q_star > 0 and math.isfinite(self.q_star)):
            raise SpectraError(f"q_star must be a finite number > 0, got {self.q_star}")

    def identity(self) -> dict:
        """The fields that must match for a folder to be resumed (all but ``steps`` and
        ``segment``, which do not change the numbers)."""
        d = asdict(self)
        d.pop("steps")
        d.pop("segment")
        return d


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order epoch ``epoch`` visits ``n`` training examples: a function of (seed, epoch)."""
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1))
    return torch.randperm(n, generator=g)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 1000,
    device: str | torch.device = "cpu",
    dtype=torch.float32,
) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy in [0, 1]) of ``model`` on ``x`` (N,C,H,W), ``y`` (N,)."""
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device=device, dtype=dtype)
        yb = y[i : i + batch_size].to(device)
        logits = model(xb)
        total_loss += float(torch.nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    return total_loss / len(x), correct / len(x)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.17g}"
    return str(v)


class _History:
    """``history.csv`` opened for appending: a header once, then one line per row."""

    def __init__(self, path: Path, keep_through_step: int | None) -> None:
        self.path = path
        if keep_through_step is None or not path.exists():
            path.write_text(",".join(HISTORY_COLUMNS) + "\n")
        else:  # resume: drop rows after the checkpoint (they will be redone) and any
            # line a kill cut short (no newline, or not all fields)
            lines = path.read_text().splitlines(keepends=True)
            keep = [lines[0]]
            for ln in lines[1:]:
                fields = ln.rstrip("\n").split(",")
                if not ln.endswith("\n") or len(fields) != len(HISTORY_COLUMNS):
                    continue
                if int(fields[0]) <= keep_through_step:
                    keep.append(ln)
            tmp = path.with_suffix(".csv.tmp")
            tmp.write_text("".join(keep))
            os.replace(tmp, path)
        self.f = open(path, "a")  # noqa: SIM115

    def add(self, row: dict) -> None:
        self.f.write(",".join(_fmt(row[c]) for c in HISTORY_COLUMNS) + "\n")

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors and plain types only) to a tmp file, then rename it."""
    tmp = path.with_suffix(".pt.tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


_CKPT_KEYS = {"config": dict, "step": int, "clock": float, "model": dict, "optimizer": dict}


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a ``checkpoint.pt`` safely: ``torch.load(weights_only=True)`` (tensors and
    plain containers only; a pickle that would run code is refused, never executed),
    then a check of its fields. Anything else is a one-line SpectraError."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure to read is the same refusal
        kind = type(e).__name__
        raise SpectraError(f"{path} is not a readable spectra checkpoint ({kind})") from None
    ok = isinstance(state, dict) and all(
        isinstance(state.get(k), t) and not isinstance(state.get(k), bool)
        for k, t in _CKPT_KEYS.items()
    )
    if ok:
        ok = state["step"] >= 0 and math.isfinite(state["clock"])
        ok = ok and all(isinstance(v, torch.Tensor) for v in state["model"].values())
    if not ok:
        raise SpectraError(f"{path} is not a spectra checkpoint (missing or bad fields)")
    return state


def train(
    config: TrainConfig,
    out: str | os.PathLike | None,
    *,
    data: Dataset | None = None,
    data_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Train (or resume) the run ``config`` in folder ``out``; return its history.

    Writes ``out/history.csv`` (appended step by step) and ``out/checkpoint.pt``. If the
    folder holds a checkpoint of the same config (``steps`` aside) training resumes
    from it; a different config is a SpectraError. ``out=None``: a temporary folder,
    removed afterwards (only the returned history is kept). ``progress(n)`` is called after
    every ``n`` steps done (it may raise, e.g. KeyboardInterrupt, to stop the run:
    the last checkpoint stays valid).
    """
    config.validate()
    if out is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="spectra-train-") as tmp:
            return train(
                config, tmp, data=data, data_dir=data_dir, device=device, progress=progress
            )
    if data is None:
        data = load_dataset(config.dataset, data_dir)
    if data.name != config.dataset:
        raise SpectraError(f"data set {data.name!r} given for a {config.dataset!r} run")
    if config.batch_size > len(data.x_train):
        raise SpectraError(
            f"batch_size {config.batch_size} exceeds the {len(data.x_train)} training images"
        )
    configure_numerics()
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    out = Path(out)
    model = build_model(config, data, dtype=dtype).to(device)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, hist_path = out / "checkpoint.pt", out / "history.csv"
    opt = make_optimizer(model, config)
    step, clock = 0, 0.0
    stale = ckpt_path.with_suffix(".pt.tmp")  # a write that a kill cut short
    if stale.exists():
        stale.unlink()
    if ckpt_path.exists():
        check_resumable(config, out)
        state = load_checkpoint(ckpt_path, map_location=device)
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise SpectraError(f"{ckpt_path} does not fit this run: {msg}") from None
        step, clock = int(state["step"]), float(state["clock"])
        history = _History(hist_path, keep_through_step=step)
    else:
        history = _History(hist_path, keep_through_step=None)

    n_train = len(data.x_train)
    per_epoch = n_train // config.batch_size
    x_test, y_test = data.x_test, data.y_test
    if config.eval_size is not None:
        x_test, y_test = x_test[: config.eval_size], y_test[: config.eval_size]
    const = {
        "dataset": config.dataset,
        "init": config.init,
        "depth": config.depth,
        "channels": config.channels,
        "optimizer": config.optimizer,
        "lr": float(config.lr),
        "seed": config.seed,
    }

    def _eval_row(s: int) -> None:
        model.eval()
        loss, acc = evaluate(model, x_test, y_test, device=device, dtype=dtype)
        model.train()
        epoch = s // per_epoch
        history.add(
            {
                "step": s,
                "epoch": epoch,
                "split": "test",
                "loss": loss,
                "accuracy": acc,
                "seconds": clock,
                **const,
            }
        )

    def _checkpoint() -> None:
        history.flush()
        _save_checkpoint(
            ckpt_path,
            {
                "config": config.identity(),
                "step": step,
                "clock": clock,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
            },
        )

    try:
        if step == 0 and not ckpt_path.exists():
            _eval_row(0)
            _checkpoint()
        perm_epoch, perm = -1, None
        model.train()
        while step < config.steps:
            epoch, pos = divmod(step, per_epoch)
            if epoch != perm_epoch:
                perm, perm_epoch = epoch_permutation(config.seed, epoch, n_train), epoch
            idx = perm[pos * config.batch_size : (pos + 1) * config.batch_size]
            xb = data.x_train[idx].to(device=device, dtype=dtype)
            yb = data.y_train[idx].to(device)
            t0 = time.perf_counter()
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_v = float(loss.detach())
            acc_v = float((logits.detach().argmax(1) == yb).float().mean())
            clock += time.perf_counter() - t0
            step += 1
            history.add(
                {
                    "step": step,
                    "epoch": epoch,
                    "split": "train",
                    "loss": loss_v,
                    "accuracy": acc_v,
                    "seconds": clock,
                    **const,
                }
            )
            if not math.isfinite(loss_v):
                _checkpoint()
                raise SpectraError(f"training diverged at step {step} (loss {loss_v})")
            if step % config.eval_every == 0 or step == config.steps:
                _eval_row(step)
            if step % config.checkpoint_every == 0 or step == config.steps:
                _checkpoint()
            if progress is not None:
                progress(1)
    finally:
        history.close()
    return read_history(hist_path)


def check_resumable(config: TrainConfig, out: str | os.PathLike) -> None:
    """SpectraError if ``out`` holds a checkpoint of a different run (checked up front)."""
    ckpt = Path(out) / "checkpoint.pt"
    if not ckpt.exists():
        return
    saved = load_checkpoint(ckpt)["config"]
    _check_history(Path(out) / "history.csv")
    ident = config.identity()
    defaults = TrainConfig().identity()  # fields added later read as their defaults
    diff = sorted(k for k in ident if saved.get(k, defaults[k]) != ident[k])
    if diff:
        raise SpectraError(
            f"{out} holds a different run (differs in: {', '.join(diff)}); use another --out"
        )


def _check_history(path: Path) -> None:
    """SpectraError unless ``path`` (if present) starts with the history header and
    every complete line has numeric step, epoch, loss, accuracy and seconds fields."""
    if not path.exists():
        return
    try:
        lines = path.read_text().splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        raise SpectraError(f"{path} is not a readable history.csv") from None
    if not lines or lines[0].rstrip("\n") != ",".join(HISTORY_COLUMNS):
        raise SpectraError(f"{path} is not a spectra history.csv (bad header)")
    for ln in lines[1:]:
        fields = ln.rstrip("\n").split(",")
        if not ln.endswith("\n") or len(fields) != len(HISTORY_COLUMNS):
            continue  # a line a kill cut short: dropped on resume
        try:
            int(fields[0]), int(fields[1]), [float(fields[i]) for i in (3, 4, 5)]
        except ValueError:
            raise SpectraError(f"{path} is not a spectra history.csv (bad row)") from None


def read_history(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``history.csv`` (a folder is taken to contain one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "history.csv"
    return pd.read_csv(path)


def smoothed_train_accuracy(history: pd.DataFrame, window: int = 50) -> pd.DataFrame:
    """Train rows with ``accuracy_smooth``: the mean batch accuracy over the last
    ``window`` steps (fewer at the start). Columns ``step, accuracy_smooth``."""
    tr = history[history["split"] == "train"].sort_values("step")
    sm = tr["accuracy"].rolling(window, min_periods=1).mean().to_numpy()
    return pd.DataFrame({"step": tr["step"].to_numpy(), "accuracy_smooth": sm})


def steps_to_accuracy(
    history: pd.DataFrame, target: float, *, split: str = "train", window: int = 50
) -> float:
    """First step at which accuracy reaches ``target`` (NaN if never).

    ``split="train"`` uses the ``window``-step running mean of batch accuracy (and needs
    at least ``window`` steps); ``split="test"`` the evaluation rows.
    """
    if split == "train":
        sm = smoothed_train_accuracy(history, window)
        ok = (sm["accuracy_smooth"] >= target) & (sm["step"] >= min(window, sm["step"].max()))
        steps = sm["step"][ok]
    else:
        te = history[history["split"] == split].sort_values("step")
        steps = te["step"][te["accuracy"] >= target]
    return float(steps.iloc[0]) if len(steps) else math.nan


def accuracy_after(
    history: pd.DataFrame, steps: int, *, split: str = "train", window: int = 50
) -> float:
    """Accuracy after ``steps`` steps: the running train mean at that step, or the last
    evaluation at or before it for ``split="test"``."""
    if split == "train":
        sm = smoothed_train_accuracy(history, window)
        sm = sm[sm["step"] <= steps]
        return float(sm["accuracy_smooth"].iloc[-1]) if len(sm) else math.nan
    te = history[(history["split"] == split) & (history["step"] <= steps)].sort_values("step")
    return float(te["accuracy"].iloc[-1]) if len(te) else math.nan
