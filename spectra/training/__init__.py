"""Training the paper's deep vanilla tanh CNNs: the configuration, the classifier and its
fixed scales, the resumable loop, and learning-curve readouts.
"""

from ._fast import (
    FAST_CHANNELS as FAST_CHANNELS,
    circular_block as circular_block,
    fast_available as fast_available,
    tap_tables as tap_tables,
)
from ._loop import (
    HISTORY_COLUMNS as HISTORY_COLUMNS,
    TrainConfig as TrainConfig,
    accuracy_after as accuracy_after,
    check_resumable as check_resumable,
    epoch_permutation as epoch_permutation,
    evaluate as evaluate,
    load_checkpoint as load_checkpoint,
    read_history as read_history,
    smoothed_train_accuracy as smoothed_train_accuracy,
    steps_to_accuracy as steps_to_accuracy,
    train as train,
)
from ._regime import (
    Classifier as Classifier,
    build_model as build_model,
    configure_numerics as configure_numerics,
    diagnose as diagnose,
    lr_factors as lr_factors,
    make_optimizer as make_optimizer,
    matched_input_scale as matched_input_scale,
)

__all__ = [
    "FAST_CHANNELS",
    "circular_block",
    "fast_available",
    "tap_tables",
    "load_checkpoint",
    "check_resumable",
    "TrainConfig",
    "Classifier",
    "matched_input_scale",
    "HISTORY_COLUMNS",
    "build_model",
    "make_optimizer",
    "configure_numerics",
    "diagnose",
    "lr_factors",
    "epoch_permutation",
    "evaluate",
    "train",
    "read_history",
    "steps_to_accuracy",
    "accuracy_after",
    "smoothed_train_accuracy",
]
