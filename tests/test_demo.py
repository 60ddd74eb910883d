"""The demo project: synthetic scenes plus the real Atlanta sample, built twice without duplicates."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from services.demo import build_demo
from db.schema import Footprint, Scene, Tile
from db.session import transaction


def table_counts() -> tuple[int, int, int]:
    with transaction() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Scene, Tile, Footprint))


def test_demo_is_built_once(data_home):
    steps = []
    first = build_demo("demo", progress=lambda f, m: steps.append(f), n_synth=1, predict=False, size=128)
    synthetic = json.loads((data_home / "demo" / "scene_000.geojson").read_text())["features"]
    assert first["scenes"] == 2 and first["labels_added"] == 43 + len(synthetic)
    assert (data_home / "demo" / "scene_000.tif").exists()
    counts = table_counts()
    second = build_demo("demo", n_synth=1, predict=False, size=128)
    assert second["tiles_added"] == 0 and second["labels_added"] == 0 and table_counts() == counts
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    with transaction() as session:
        names = set(session.scalars(select(Scene.name)))
    assert names == {"scene_000", "atlanta_sn4_pan"}
    with transaction() as session:
        first_scene = session.scalars(select(Scene).order_by(Scene.id)).first()
    assert first_scene.name == "atlanta_sn4_pan"  # the Review page opens on real imagery
