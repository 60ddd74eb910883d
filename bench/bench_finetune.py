"""Fine-tuning benchmark: throughput (tiles/s) of the default preset on this machine, and the time from
queueing a retrain to a registered model version.

    .venv/bin/python bench/bench_finetune.py [--tiles 20] [--epochs 5] [--tile-size 256] [--keep DIR]

It builds a throw-away data home with synthetic scenes ingested with labels (label footprints are accepted,
so the tiles count as reviewed), uses the shipped default model as the active version when it has the preset
(else a fresh SegNet of the preset), queues one retrain job and runs the worker in this process. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_project(home: Path, n_tiles: int, tile_size: int) -> int:
    """Ingest synthetic scenes with labels until the project has at least ``n_tiles`` reviewed tiles."""
    from services.ingest import ingest
    from db.session import transaction
    from geo.synth import make_scene
    from services.training_set import reviewed_tile_ids

    project_id, index = None, 0
    while True:
        tif, geojson = make_scene(home / "scenes", seed=11, index=index, size=tile_size * 2)
        project_id = ingest([tif], [geojson], project="bench", tile_size=tile_size)["project_id"]
        with transaction() as session:
            if len(reviewed_tile_ids(session, project_id)) >= n_tiles:
                return project_id
        index += 1


def trim_to(project_id: int, n_tiles: int) -> None:
    """Keep exactly ``n_tiles`` reviewed tiles: the others lose their footprints."""
    from sqlalchemy import delete

    from db.schema import Footprint
    from db.session import transaction
    from services.training_set import reviewed_tile_ids

    with transaction() as session:
        extra = reviewed_tile_ids(session, project_id)[n_tiles:]
        session.execute(delete(Footprint).where(Footprint.tile_id.in_(extra)))


def base_version(preset: str, home: Path) -> str:
    """The shipped default when it has ``preset``; else a fresh SegNet of that preset, registered active."""
    from db.model_versions import ensure_default_model, register_model_version
    from db.session import transaction
    from model.segnet import build_segnet

    with transaction() as session:
        default = ensure_default_model(session)
        if default is not None and default.preset == preset:
            return f"shipped default ({default.preset})"
        path = home / f"base-{preset}.keras"
        build_segnet(3, preset, "border").save(path)
        register_model_version(session, path, {"preset": preset, "head": "border", "bands": 3},
                               name=f"fresh-{preset}", activate=True)
        shipped = default.preset if default is not None else "missing"
        return f"fresh {preset} SegNet (the shipped default is preset '{shipped}')"


def run_once(project_id: int, epochs: int, batch_size: int) -> dict:
    """Queue a retrain and run the worker until it is done; returns timings and the job's history."""
    from db import jobs
    from db.session import transaction
    from worker.main import run_worker
    from services.queueing import queue_retrain

    queued = time.perf_counter()
    with transaction() as session:
        job_id = queue_retrain(session, project_id, epochs=epochs, batch_size=batch_size,
                               learning_rate=1e-4).id
    result = run_worker(once=True, heartbeat_seconds=2.0)
    total = time.perf_counter() - queued
    with transaction() as session:
        job = jobs.get_job(session, job_id)
        return {"status": result["jobs"].get(job_id), "queue_to_version_s": round(total, 1),
                "history": list(job.history), "params": dict(job.params),
                "version": job.result_model_version_id}


def summarise(run: dict, epochs: int) -> dict:
    """Tiles/s per epoch (first epoch includes graph tracing; the median of the later ones is the figure)."""
    n_train = len(run["params"]["train_tile_ids"])
    seconds = [row["seconds"] for row in run["history"] if row.get("seconds")]
    later = seconds[1:] or seconds
    return {"train_tiles": n_train, "val_tiles": len(run["params"]["val_tile_ids"]), "epochs": epochs,
            "patch": run["params"]["patch"], "preset": run["params"]["preset"], "head": run["params"]["head"],
            "epoch_seconds": seconds, "tiles_per_s_median": round(n_train / statistics.median(later), 2),
            "tiles_per_s_first_epoch": round(n_train / seconds[0], 2) if seconds else None,
            "queue_to_version_s": run["queue_to_version_s"], "status": run["status"],
            "val_metrics": run.get("metrics")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--preset", default="light",
                        help="preset to fine-tune (default: light, the CPU default)")
    parser.add_argument("--keep", type=Path, help="data home to use (kept afterwards)")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    os.environ["FOOTPRINTS_HOME"] = str(home)
    os.environ["DATABASE_URL"] = f"sqlite:///{home / 'footprints.db'}"
    project_id = build_project(home, args.tiles, args.tile_size)
    trim_to(project_id, args.tiles)
    base = base_version(args.preset, home)
    run = run_once(project_id, args.epochs, args.batch_size)
    from db.schema import ModelVersion
    from db.session import transaction

    with transaction() as session:
        version = session.get(ModelVersion, run["version"]) if run["version"] else None
        run["metrics"] = dict(version.metrics) if version else None
    import keras

    print(json.dumps({"keras_backend": keras.backend.backend(), "cpus": os.cpu_count(), "base": base,
                      **summarise(run, args.epochs)}, indent=2, default=str))


if __name__ == "__main__":
    main()
