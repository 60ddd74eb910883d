"""Which tiles a retrain learns from, and the deterministic train/validation split by tile."""
from __future__ import annotations

import numpy as np
from sqlalchemy import update

from db.schema import Footprint, Tile
from db.session import transaction
from test_worker_support import tiny_project, unlabel
from services.training_set import reviewed_tile_ids, split_tiles, unreviewed_tile_ids


def test_training_tiles_are_the_ones_a_reviewer_worked_on(data_home, tmp_path):
    project_id, tiles = tiny_project(tmp_path)
    unlabel(tiles[2:])
    with transaction() as session:
        assert reviewed_tile_ids(session, project_id) == []  # imported labels alone are not review work
        assert unreviewed_tile_ids(session, project_id) == tiles
    # a tile marked reviewed counts even without footprints; a building a reviewer accepted counts
    with transaction() as session:
        session.execute(update(Tile).where(Tile.id == tiles[2]).values(review_state="reviewed"))
        session.execute(update(Footprint).where(Footprint.tile_id == tiles[3]).values(status="accepted"))
    with transaction() as session:
        assert reviewed_tile_ids(session, project_id) == tiles[2:4]
    # a tile with rejections only does not
    with transaction() as session:
        session.execute(update(Footprint).where(Footprint.tile_id == tiles[3]).values(status="rejected"))
    with transaction() as session:
        assert reviewed_tile_ids(session, project_id) == [tiles[2]]
        assert unreviewed_tile_ids(session, project_id) == [tiles[0], tiles[1], tiles[3]]


def test_split_is_deterministic_disjoint_and_never_empty():
    ids = list(range(10, 30))
    train, val = split_tiles(ids)
    assert (train, val) == split_tiles(list(reversed(ids)))
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == ids
    assert split_tiles([7]) == ([7], [7])
    assert split_tiles([]) == ([], [])
    two_train, two_val = split_tiles([1, 2])
    assert len(two_train) == 1 and len(two_val) == 1


def test_a_fine_tune_on_few_tiles_gets_enough_steps(monkeypatch):
    """6 reviewed 614 px tiles make 14 batches of 4 per epoch: 5 requested epochs become 18 (240 steps); many tiles
    keep the requested epochs, and the raise stops at the cap."""
    from model import defaults
    from model.data import TrainingExample
    from worker.retrain import fine_tune_epochs

    def tiles(n: int, size: int) -> list:
        return [TrainingExample(np.zeros((size, size, 3), np.float32), np.zeros((size, size), np.int32),
                                np.ones((size, size), bool)) for _ in range(n)]

    monkeypatch.setenv("FOOTPRINTS_MIN_FINE_TUNE_STEPS", str(defaults.MIN_FINE_TUNE_STEPS))
    assert fine_tune_epochs(5, tiles(6, 614), batch_size=4, patch=256) == 18
    assert fine_tune_epochs(5, tiles(400, 512), batch_size=4, patch=256) == 5
    assert fine_tune_epochs(5, tiles(1, 64), batch_size=4, patch=256) == defaults.MAX_FINE_TUNE_EPOCHS
    monkeypatch.setenv("FOOTPRINTS_MIN_FINE_TUNE_STEPS", "0")
    assert fine_tune_epochs(5, tiles(6, 614), batch_size=4, patch=256) == 5


def test_a_fine_tune_keeps_its_base_loss_weights(tmp_path):
    """fit() given class weights trains with them (not the reviewed tiles' own median-frequency weights)."""
    from model.train import fit
    from test_train import square_examples

    base_weights = [0.11, 1.0, 1.68]
    card = fit(square_examples(4), square_examples(1), out_dir=tmp_path / "run", preset="tiny", head="border",
               epochs=1, batch_size=4, patch=64, width=4, class_weights=base_weights)
    assert np.allclose(card["class_weights"], base_weights)
    own = fit(square_examples(4), square_examples(1), out_dir=tmp_path / "own", preset="tiny", head="border",
              epochs=1, batch_size=4, patch=64, width=4)
    assert not np.allclose(own["class_weights"], base_weights)
