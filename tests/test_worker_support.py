"""Helpers for the trainer tests (no tests here): a tiny synthetic scene ingested into a project."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from db.schema import Footprint, Tile
from db.session import transaction


def tiny_project(tmp_path: Path, name: str = "tiny", size: int = 128, tile_size: int = 64, seed: int = 3,
                 labels: bool = True) -> tuple[int, list[int]]:
    """A ``size`` px synthetic RGB GeoTIFF cut into ``tile_size`` tiles (4 by default); returns (project id,
    tile ids). With labels, every tile holds the label footprints (status accepted) of its buildings."""
    from db.ingest import ingest
    from geo.synth import make_scene

    tif, geojson = make_scene(tmp_path / f"scenes-{name}", seed, 0, size=size)
    summary = ingest([tif], [geojson] if labels else None, project=name, tile_size=tile_size)
    with transaction() as session:
        tile_ids = list(session.scalars(select(Tile.id).where(Tile.scene_id.in_(summary["scene_ids"]))
                                        .order_by(Tile.id)))
    return summary["project_id"], tile_ids


def unlabel(tile_ids: list[int]) -> None:
    """Turn tiles back into never-reviewed ones: their label footprints become pending model proposals."""
    with transaction() as session:
        session.execute(update(Footprint).where(Footprint.tile_id.in_(tile_ids))
                        .values(status="pending", source="model").execution_options(synchronize_session=False))
        session.execute(update(Tile).where(Tile.id.in_(tile_ids)).values(review_state="unreviewed")
                        .execution_options(synchronize_session=False))
