"""The review loop on real imagery: half of a place's scenes reviewed (a reviewer confirms each tile: its labels,
or that it has no building), a fine-tune through the background trainer, the candidate promoted, the other half
scored before and after (SpaceNet F1, whole scenes).

The starting model is the leave-places-out fold model that never saw the place (``--candidate``'s fold of
bench_real.py), registered as the active version, so the "before" figure is honest about the place being new.

    .venv/bin/python bench/bench_loop_real.py --place joplin --candidate balanced \
        --threshold 0.85 --min-area 80 --seed-level 0.4

Needs ../shared/data and the fold models of `bench/bench_real.py train`.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3  # noqa: F401 - Python's SQLite before TensorFlow's, which has no R*Tree (cli/__init__.py)
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--place", default="joplin")
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--runs", default=str(ROOT / "bench" / "out" / "real"))
    parser.add_argument("--epochs", type=int, default=5,
                        help="epochs asked for (the worker raises them to its minimum number of steps)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="the retrain job's learning rate (default: the Training page's)")
    parser.add_argument("--candidate", default="shipped-ft",
                        help="bench_real.py candidate whose fold model (never saw the place) starts the loop")
    parser.add_argument("--threshold", type=float, default=None, help="score at this threshold (default: the card's)")
    parser.add_argument("--min-area", type=float, default=None, help="... and this minimum polygon area in m2")
    parser.add_argument("--seed-level", type=float, default=None, help="... and this seed level (border head)")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--align-labels", action="store_true",
                        help="the reviewed labels are registered to their imagery at ingest (`ingest --align-labels`), "
                             "and the scored half is scored against its labels registered too (as well as published)")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="bench-loop-real-"))
    os.environ["FOOTPRINTS_HOME"], os.environ["DATABASE_URL"] = str(home), f"sqlite:///{home / 'footprints.db'}"

    from bench_real import MANIFEST, fold_model, score_scene, place_scores
    from geo.sources import aligned, load_places

    place = next(p for p in load_places(MANIFEST, Path(args.root), home / "mosaics") if p.name == args.place)
    place = aligned(place) if args.align_labels else place
    if len(place.scenes) < 2:
        sys.exit(f"place '{args.place}' has {len(place.scenes)} scene; the loop needs at least 2")
    half = len(place.scenes) // 2
    reviewed, held = place.scenes[:half], place.scenes[half:]
    base = fold_model(Path(args.runs), args.candidate, place.name)
    tuned = {"threshold": args.threshold, "min_area_m2": args.min_area, "seed_level": args.seed_level}
    before_rows = [score_scene(base, s, _work(home, "before"), 1, registered=args.align_labels, **tuned) for s in held]
    started = time.monotonic()
    version_path, job = fine_tune(reviewed, base, args.epochs, args.learning_rate)
    after_rows = [score_scene(Path(version_path), s, _work(home, "after"), 1, registered=args.align_labels, **tuned)
                  for s in held]
    before, after = place_scores(before_rows), place_scores(after_rows)
    registered = {}
    if args.align_labels:
        reg_before, reg_after = (place_scores([r["registered"] for r in rows]) for rows in (before_rows, after_rows))
        registered = {"registered_truth": {"before": _brief(reg_before), "after": _brief(reg_after),
                                           "f1_change": round(reg_after["f1"] - reg_before["f1"], 3)}}
    print(json.dumps({"place": place.name, "candidate": args.candidate, **tuned,
                      "learning_rate": args.learning_rate, "keep": os.environ.get("FOOTPRINTS_FINE_TUNE_KEEP"),
                      "reviewed_scenes": [Path(s.scene).name for s in reviewed],
                      "scored_scenes": [Path(s.scene).name for s in held], "buildings_scored": before["buildings"],
                      "before": _brief(before), "after": _brief(after), "f1_change": round(after["f1"] - before["f1"], 3),
                      **registered, "fine_tune_minutes": round((time.monotonic() - started) / 60, 1), "job": job},
                     indent=1))


def _work(home: Path, name: str) -> Path:
    path = home / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _brief(scores: dict) -> dict:
    return {k: round(scores[k], 3) for k in ("f1", "precision", "recall", "tp", "fp", "fn")}


def project_tile_ids(session, project_id: int) -> list[int]:
    from sqlalchemy import select

    from db.schema import Scene, Tile

    return list(session.scalars(select(Tile.id).join(Scene, Scene.id == Tile.scene_id)
                                .where(Scene.project_id == project_id).order_by(Tile.id)))


def fine_tune(reviewed, base: Path, epochs: int, learning_rate: float | None = None) -> tuple[str, dict]:
    """Ingest the reviewed scenes with their labels, make ``base`` the active version, queue a retrain, run the
    worker once, promote the candidate; returns its model path and the job's summary."""
    import json as _json

    from db.model_versions import register_model_version
    from db.review import accept_all_remaining
    from db.schema import ModelVersion
    from db.session import transaction
    from services.ingest import ingest
    from services.queueing import promote_version, queue_retrain
    from worker.main import run_worker

    summary = ingest([s.scene for s in reviewed], [s.labels for s in reviewed], project="loop")
    card = _json.loads(base.with_name("model.card.json").read_text())
    with transaction() as session:  # a reviewer confirms every tile: its labels, or that it has no building
        for tile_id in project_tile_ids(session, summary["project_id"]):
            accept_all_remaining(session, "loop-reviewer", tile_id)
    with transaction() as session:
        register_model_version(session, base, card, name="fold-base", activate=True)
        rate = {} if learning_rate is None else {"learning_rate": learning_rate}
        job_id = queue_retrain(session, summary["project_id"], epochs=epochs, **rate).id
    result = run_worker(once=True, heartbeat_seconds=2.0)
    with transaction() as session:
        from db import jobs

        job = jobs.get_job(session, job_id)
        version = session.get(ModelVersion, job.result_model_version_id)
        if version is None:
            sys.exit(f"the retrain job did not make a version: {result} {job.error}")
        promote_version(session, version.id)
        return version.path, {"status": str(job.status), "train_tiles": len(job.params.get("train_tile_ids", [])),
                              "val_tiles": len(job.params.get("val_tile_ids", [])), "metrics": dict(version.metrics)}


if __name__ == "__main__":
    main()
