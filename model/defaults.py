"""Training defaults, in one place: how many epochs, how many tiles per batch, which share of the tiles
validates, and the fine-tuning learning rate.

These are the values the worker has always used for a retrain job (queued from the Training page or with
``footprints retrain``), so that path behaves as before. ``model.train.fit`` (epochs 10, batch 8, learning rate
1e-3) and ``footprints train`` (epochs 20, batch 8, validation share 0.15) still carry their own literals for
training from scratch; they should read these names too (those two files are being edited elsewhere)."""
from __future__ import annotations

EPOCHS = 5
BATCH_SIZE = 4
VALIDATION_SHARE = 0.2  # share of the reviewed tiles held out to validate (at least one tile)
FINE_TUNE_LEARNING_RATE = 1e-4
