"""Helpers for the trainer tests (no tests here): a tiny synthetic scene ingested into a project."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from db.schema import Footprint, Tile
from db.session import transaction


CRS = "EPSG:32616"
ORIGIN = (740000.0, 3740000.0)  # upper-left corner (UTM 16N, metres)
PIXEL_M = 0.5


def _buildings(size: int, tile_size: int) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (col0, row0, col1, row1): two buildings sharing a wall in every tile, one detached."""
    boxes = []
    for row in range(0, size, tile_size):
        for col in range(0, size, tile_size):
            boxes += [(col + 8, row + 10, col + 28, row + 30), (col + 28, row + 10, col + 48, row + 30),
                      (col + 16, row + 40, col + 40, row + 56)]
    return boxes


def write_scene(folder: Path, size: int = 128, tile_size: int = 64, seed: int = 0) -> tuple[Path, Path]:
    """A tiny RGB uint8 GeoTIFF (dark ground, bright roofs, noise) and its labels (GeoJSON, scene CRS)."""
    import json

    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    image = rng.normal(60, 12, (3, size, size))
    boxes = _buildings(size, tile_size)
    for i, (c0, r0, c1, r1) in enumerate(boxes):
        image[:, r0:r1, c0:c1] = rng.normal(170 + 20 * (i % 3), 10, (3, r1 - r0, c1 - c0))
    folder.mkdir(parents=True, exist_ok=True)
    tif, labels = folder / "tiny.tif", folder / "tiny.geojson"
    transform = from_origin(*ORIGIN, PIXEL_M, PIXEL_M)
    with rasterio.open(tif, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS,
                       transform=transform) as dst:
        dst.write(np.clip(image, 0, 255).astype("uint8"))
    def xy(col: int, row: int) -> list[float]:
        return [ORIGIN[0] + col * PIXEL_M, ORIGIN[1] - row * PIXEL_M]

    rings = [[xy(c0, r0), xy(c0, r1), xy(c1, r1), xy(c1, r0), xy(c0, r0)] for c0, r0, c1, r1 in boxes]
    features = [{"type": "Feature", "id": i, "properties": {},
                 "geometry": {"type": "Polygon", "coordinates": [ring]}} for i, ring in enumerate(rings)]
    labels.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": CRS}}, "features": features}))
    return tif, labels


def tiny_project(tmp_path: Path, name: str = "tiny", size: int = 128, tile_size: int = 64,
                 seed: int = 0, labels: bool = True) -> tuple[int, list[int]]:
    """A ``size`` px GeoTIFF written here, cut into ``tile_size`` tiles (4 by default), ingested; returns
    (project id, tile ids). With labels, every tile holds three label footprints (status accepted)."""
    from services.ingest import ingest

    tif, geojson = write_scene(tmp_path / f"scenes-{name}", size, tile_size, seed)
    summary = ingest([tif], [geojson] if labels else None, project=name, tile_size=tile_size)
    with transaction() as session:
        tile_ids = list(session.scalars(select(Tile.id).where(Tile.scene_id.in_(summary["scene_ids"]))
                                        .order_by(Tile.id)))
    return summary["project_id"], tile_ids


def unlabel(tile_ids: list[int]) -> None:
    """Turn tiles back into never-reviewed ones: their label footprints become pending model proposals."""
    with transaction() as session:
        session.execute(update(Footprint).where(Footprint.tile_id.in_(tile_ids))
                        .values(status="pending", source="model")
                        .execution_options(synchronize_session=False))
        session.execute(update(Tile).where(Tile.id.in_(tile_ids)).values(review_state="unreviewed")
                        .execution_options(synchronize_session=False))


def tiny_base_version(tmp_path: Path, name: str = "tiny-base") -> int:
    """A real tiny SegNet (border head, width 4, depth 2) saved to disk, registered as the active version."""
    from db.schema import ModelVersion
    from model.segnet import build_segnet

    path = tmp_path / f"{name}.keras"
    build_segnet(3, "tiny", "border", depth=2).save(path)
    with transaction() as session:
        for version in session.scalars(select(ModelVersion).where(ModelVersion.is_active.is_(True))):
            version.is_active = False
        version = ModelVersion(name=name, path=str(path), preset="tiny", head="border", bands=3,
                               card={"preset": "tiny", "depth": 2}, metrics={}, train_tiles=0, is_active=True)
        session.add(version)
        session.flush()
        return version.id


def review_tiles(tile_ids: list[int], reviewer: str = "alice") -> None:
    """Accept every pending footprint of each tile through the review functions (one action per tile)."""
    from db import review

    for tile_id in tile_ids:
        with transaction() as session:
            review.accept_all_remaining(session, reviewer, tile_id)


def worker_env(data_home: Path) -> dict[str, str]:
    """Environment for a worker subprocess on the test's data home."""
    import os

    return {**os.environ, "FOOTPRINTS_HOME": str(data_home),
            "DATABASE_URL": f"sqlite:///{data_home / 'footprints.db'}",
            "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
