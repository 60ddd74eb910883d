"""Database side of the model: versions, training examples from tiles, predicting tiles into footprints."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from sqlalchemy import select

from db.schema import Footprint, ModelVersion, Tile


@pytest.fixture()
def project(data_home, tmp_path):
    """A synthetic 128 px scene with labels ingested as four 64 px tiles."""
    from services.ingest import ingest
    from geo.synth import make_scene

    tif, labels = make_scene(tmp_path / "scenes", seed=7, index=0, size=128)
    summary = ingest([tif], [labels], project="p", tile_size=64)
    assert summary["tiles"] == 4
    return "p"


@pytest.fixture()
def tiny_model(tmp_path):
    from model.segnet import build_segnet

    path = tmp_path / "tiny.keras"
    build_segnet(3, "tiny", "border", width=2).save(path)
    return path


def test_register_promote_and_default(data_home, tiny_model):
    from db.model_versions import active_model_version, ensure_default_model, promote, register_model_version
    from db.session import transaction

    with transaction() as session:
        default = ensure_default_model(session)
        assert default is not None and default.is_active and default.name == "default"
        assert ensure_default_model(session).id == default.id  # second call registers nothing
        new = register_model_version(session, tiny_model, {"preset": "tiny", "head": "border", "bands": 3},
                                     parent_id=default.id)
        assert not new.is_active and active_model_version(session).id == default.id
        promote(session, new.id)
        assert active_model_version(session).id == new.id
        assert session.scalar(select(ModelVersion).where(ModelVersion.id == default.id)).is_active is False


def test_tile_examples_labels_and_reviewed_policies(project):
    from db.session import transaction
    from db.training_data import tile_examples

    with transaction() as session:
        tiles = list(session.scalars(select(Tile).order_by(Tile.id)))
        examples = tile_examples(session, [t.id for t in tiles], policy="labels")
        assert len(examples) == 4
        ex = max(examples, key=lambda e: (e.instances > 0).sum())
        assert ex.image.shape == (64, 64, 3) and ex.image.dtype == np.float32
        assert ex.instances.max() >= 1 and ex.valid.all()
        busiest = tiles[examples.index(ex)]
        labels = session.scalars(select(Footprint).where(Footprint.tile_id == busiest.id)).all()
        for fp in labels:
            fp.status = "rejected"
        session.flush()
        reviewed = tile_examples(session, [busiest.id], policy="reviewed")[0]
        # rejected footprints are background; labels crossing in from neighbour tiles may remain
        assert (reviewed.instances > 0).sum() < (ex.instances > 0).sum()
        with pytest.raises(ValueError, match="policy"):
            tile_examples(session, [busiest.id], policy="everything")


def test_predict_project_writes_heatmaps_and_replaces_only_unreviewed(project, tiny_model):
    from services.predict_tiles import predict_project
    from db.session import transaction

    first = predict_project("p", model_path=tiny_model)
    assert first["predicted"] == 4 and first["skipped_reviewed"] == 0
    with transaction() as session:
        tiles = list(session.scalars(select(Tile).order_by(Tile.id)))
        assert all(t.heatmap_path and t.predicted_at and t.uncertainty is not None for t in tiles)
        with rasterio.open(tiles[0].heatmap_path) as src:
            assert src.count == 2 and src.crs is not None and src.shape == (64, 64)
            assert src.transform.c == pytest.approx(tiles[0].minx)
        from services.predict_tiles import heatmap_outputs

        maps = heatmap_outputs(tiles[0].heatmap_path)
        assert set(maps) == {"prob", "interior"} and maps["prob"].shape == (64, 64)
        model_fps = session.scalars(select(Footprint).where(Footprint.source == "model")).all()
        assert model_fps and all(fp.status == "pending" and fp.model_version_id for fp in model_fps)
        reviewed_tile = tiles[0]
        kept = next(fp for fp in model_fps if fp.tile_id == reviewed_tile.id)
        kept.status = "accepted"
        kept_geometry, kept_id = kept.geometry, kept.id
        count_before = len(model_fps)
    second = predict_project("p", model_path=tiny_model)
    assert second["predicted"] == 3 and second["skipped_reviewed"] == 1
    with transaction() as session:
        fp = session.get(Footprint, kept_id)
        assert fp.status == "accepted" and fp.geometry == kept_geometry
        model_fps = session.scalars(select(Footprint).where(Footprint.source == "model")).all()
        assert len(model_fps) == count_before  # replaced, not piled up
        assert session.scalar(select(Footprint).where(Footprint.source == "label")) is not None


def test_predict_project_unknown_project_is_a_user_error(data_home, tiny_model):
    from errors import UserError
    from services.predict_tiles import predict_project

    with pytest.raises(UserError, match="no project"):
        predict_project("missing", model_path=tiny_model)


def test_predict_command_for_a_project(project, tiny_model, capsys):
    import json

    from cli.main import main

    assert main(["predict", "--project", "p", "--model", str(tiny_model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["tiles"] == 4 and out["predicted"] == 4
    assert main(["predict", "--project", "p", "--threshold", "1.5"]) == 2
