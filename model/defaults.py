"""Training defaults, in one place: how many epochs, how many tiles per batch, which share of the tiles
validates, and the fine-tuning learning rate.

Three callers, three sets of values, each defined here once:

- the retrain path (queued from the Training page or with ``footprints retrain``, run by the worker): ``EPOCHS``,
  ``BATCH_SIZE``, ``VALIDATION_SHARE``, ``FINE_TUNE_LEARNING_RATE``;
- ``model.train.fit`` called without those arguments: ``FIT_EPOCHS``, ``FIT_BATCH_SIZE``, ``FIT_LEARNING_RATE``;
- ``footprints train`` (training from scratch or fine-tuning from the command line): ``CLI_EPOCHS``,
  ``CLI_BATCH_SIZE``, ``CLI_LEARNING_RATE``, ``CLI_VALIDATION_SHARE``.

``PATIENCE`` (early stopping, in epochs) is shared by ``fit`` and ``footprints train``."""
from __future__ import annotations

EPOCHS = 5
BATCH_SIZE = 4
VALIDATION_SHARE = 0.2  # share of the reviewed tiles held out to validate (at least one tile)
FINE_TUNE_LEARNING_RATE = 1e-4

FIT_EPOCHS = 10
FIT_BATCH_SIZE = 8
FIT_LEARNING_RATE = 1e-3  # training from scratch

CLI_EPOCHS = 20
CLI_BATCH_SIZE = FIT_BATCH_SIZE
CLI_LEARNING_RATE = FIT_LEARNING_RATE
CLI_VALIDATION_SHARE = 0.15

PATIENCE = 6  # epochs without a better validation loss before training stops

# The worker's fine-tune (worker/retrain.py): below MIN_TRAIN_TILES training tiles a retrain job is refused (a
# single tile teaches a network mostly its own noise); below FREEZE_ENCODER_BELOW_TILES training tiles the base
# model's encoder stays frozen and only the decoder and head learn, so a small reviewed set cannot wreck the
# features the base learned from far more imagery.
MIN_TRAIN_TILES = 2
FREEZE_ENCODER_BELOW_TILES = 20
# A fine-tune on a few reviewed tiles runs at least this many optimizer steps (the worker raises the epochs to
# reach it, up to MAX_FINE_TUNE_EPOCHS): 5 epochs of 6 tiles were about 70 steps, too few to move the decoder
# (the loop on Joplin ended where it started).
MIN_FINE_TUNE_STEPS = 240
MAX_FINE_TUNE_EPOCHS = 60
# Which epoch a fine-tune keeps: "best" (lowest loss on its 1-2 validation tiles, stopping after PATIENCE epochs
# without a better one) or "last" (all of its epochs). The worker's check against the base on the same validation
# tiles decides promotion either way.
FINE_TUNE_KEEP = "best"


def min_fine_tune_steps() -> int:
    """``MIN_FINE_TUNE_STEPS``, or the ``FOOTPRINTS_MIN_FINE_TUNE_STEPS`` setting (0 runs the requested epochs)."""
    import os

    return max(0, int(os.environ.get("FOOTPRINTS_MIN_FINE_TUNE_STEPS", MIN_FINE_TUNE_STEPS)))


def fine_tune_keep() -> str:
    """``FINE_TUNE_KEEP``, or the ``FOOTPRINTS_FINE_TUNE_KEEP`` setting ("best" or "last")."""
    import os

    return os.environ.get("FOOTPRINTS_FINE_TUNE_KEEP", FINE_TUNE_KEEP)
