"""Scene prediction on a local Dask cluster of 2 processes writes exactly what one process writes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny SegNet (binary head, random weights; its head's kernel scaled up so that its nearly constant output
    varies) saved as .keras, with a threshold (a quantile of its probability) that gives many polygons."""
    import keras

    from geo.synth import make_scene
    from model.predict import Predictor
    from model.segnet import build_segnet

    folder = tmp_path_factory.mktemp("dask")
    keras.utils.set_random_seed(11)
    network = build_segnet(3, "tiny", "binary")
    head = network.get_layer("head_logits")
    head.set_weights([w * 1e4 for w in head.get_weights()])
    path = folder / "tiny.keras"
    network.save(path)
    tif, _ = make_scene(folder, seed=9, index=0, size=300, pixel_size=0.5)
    from geo.raster import read_window

    image, valid = read_window(tif, 0, 0, 300, 300)
    prob = Predictor(network, "binary", 3).predict_image(image, valid)["prob"]
    return path, tif, float(np.quantile(prob, 0.6))


def _sorted_features(path):
    data = json.loads(path.read_text())
    features = sorted(data["features"], key=lambda f: json.dumps(f["geometry"]))
    for f in features:
        f.pop("id"), f["properties"].pop("id")
    return json.dumps({**data, "features": features}, sort_keys=True)


def test_two_dask_processes_write_what_one_process_writes(tmp_path, tiny_model):
    from cli.main import main

    model, tif, threshold = tiny_model
    common = ["--model", str(model), "--threshold", f"{threshold:.4f}", "--block", "160", "--precision", "float32",
              "--min-area", "2", "--json"]
    assert main(["predict", str(tif), "--out", str(tmp_path / "one.geojson"), "--heatmap",
                 str(tmp_path / "one.tif"), *common]) == 0
    assert main(["predict", str(tif), "--out", str(tmp_path / "two.geojson"), "--heatmap",
                 str(tmp_path / "two.tif"), "--workers", "2", *common]) == 0
    one = json.loads((tmp_path / "one.geojson").read_text())
    assert len(one["features"]) > 10  # 4 blocks of 160 px, with polygons in them
    assert _sorted_features(tmp_path / "one.geojson") == _sorted_features(tmp_path / "two.geojson")
    assert (tmp_path / "one.geojson").read_bytes() == (tmp_path / "two.geojson").read_bytes()  # even in order
    with rasterio.open(tmp_path / "one.tif") as a, rasterio.open(tmp_path / "two.tif") as b:
        assert np.array_equal(a.read(), b.read())


def test_unreachable_scheduler_is_a_user_error(tmp_path, tiny_model, capsys):
    from cli.main import main

    model, tif, _ = tiny_model
    code = main(["predict", str(tif), "--out", str(tmp_path / "p.geojson"), "--model", str(model),
                 "--cluster", "tcp://127.0.0.1:9", "--precision", "float32"])
    assert code == 2 and "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "p.geojson").exists()


def test_predict_job_runs_on_the_cluster_named_by_footprints_dask(data_home, tmp_path, monkeypatch):
    """A worker's predict job with FOOTPRINTS_DASK set: the tiles are predicted in the cluster's worker process
    (its model cache holds the model), stored by the job, one transaction per chunk."""
    from distributed import Client, LocalCluster
    from sqlalchemy import select

    from db import jobs
    from db.schema import Tile
    from db.session import transaction
    from geo.synth import make_scene
    from services.ingest import ingest
    from services.queueing import queue_predict
    from worker.main import run_worker

    tif, _ = make_scene(tmp_path / "scenes", seed=11, index=0, size=256)
    summary = ingest([tif], None, project="city", tile_size=128)
    with transaction() as session:
        job_id = queue_predict(session, summary["project_id"]).id
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        monkeypatch.setenv("FOOTPRINTS_DASK", cluster.scheduler_address)
        assert run_worker(once=True, heartbeat_seconds=0.5)["jobs"] == {job_id: "done"}
        loaded = client.run(lambda: __import__("model.predict").predict._load_cached.cache_info().currsize)
        assert list(loaded.values()) == [1]
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        assert "Dask cluster" in job.log and job.progress["predicted"] == 4
        tiles = session.scalars(select(Tile).where(Tile.scene_id == summary["scene_ids"][0])).all()
        assert len(tiles) == 4 and all(t.predicted_at is not None and t.heatmap_path for t in tiles)
        assert all(Path(t.heatmap_path).is_file() and str(data_home) in t.heatmap_path for t in tiles)
