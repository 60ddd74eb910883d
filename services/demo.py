"""The demo project: the shipped real Atlanta sample (first, so the Review page opens on real imagery) plus
synthetic scenes of dense, touching buildings for the fused-building tools, predicted with the active model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db.settings import data_home
from geo.synth import make_scene
from services.ingest import ingest
from services.progress import Progress

ATLANTA_DIR = Path(__file__).resolve().parents[1] / "samples" / "spacenet-atlanta-sample"
ATLANTA_SCENE = ATLANTA_DIR / "atlanta_sn4_pan.tif"
ATLANTA_LABELS = ATLANTA_DIR / "atlanta_sn4_buildings.geojson"
DEMO_SEED = 2026


def demo_scenes(n_synth: int, size: int = 512) -> list[tuple[Path, Path]]:
    """Synthetic scene/label pairs under data_home()/demo (written once, reused afterwards)."""
    folder = data_home() / "demo"
    pairs = []
    for index in range(n_synth):
        tif, labels = folder / f"scene_{index:03d}.tif", folder / f"scene_{index:03d}.geojson"
        if not (tif.exists() and labels.exists()):
            tif, labels = make_scene(folder, DEMO_SEED, index, size)
        pairs.append((tif, labels))
    return pairs


def _needs_prediction(project_name: str) -> bool:
    """True while some tile of the project has never been predicted."""
    from db.queries import get_project, project_tiles
    from db.session import transaction

    with transaction() as session:
        project = get_project(session, project_name)
        return any(tile.predicted_at is None for tile in project_tiles(session, project.id))


def build_demo(
    project_name: str = "demo",
    progress: Progress | None = None,
    n_synth: int = 3,
    predict: bool = True,
    size: int = 512,
) -> dict[str, Any]:
    """Ingest the demo scenes with their labels (idempotent), then predict every tile with the active model."""
    report = progress or (lambda fraction, message: None)
    report(0.0, "writing synthetic scenes")
    pairs = demo_scenes(n_synth, size)
    scenes = [ATLANTA_SCENE] + [tif for tif, _ in pairs]  # real imagery first: the Review page opens on it
    labels = [ATLANTA_LABELS] + [labels for _, labels in pairs]
    report(0.1, "ingesting scenes and labels")
    summary = ingest(scenes, labels, project=project_name, progress=lambda f, m: report(0.1 + 0.3 * f, m))
    predicted: Any = "skipped (--no-predict)" if not predict else "nothing to predict"
    if predict and _needs_prediction(project_name):
        from services.predict_tiles import predict_project

        report(0.4, "predicting tiles with the active model")
        predicted = predict_project(project_name, progress=lambda f, m="": report(0.4 + 0.6 * f, m))
    report(1.0, "demo ready")
    return {
        "project": project_name,
        "scenes": summary["scenes"],
        "tiles_added": summary["tiles"],
        "labels_added": summary["labels"],
        "predicted": predicted,
    }
