"""Training examples from database tiles: the tile's pixels (read from the scene file) and its footprints
rasterized into an instance image.

Policies:
- ``labels``: label footprints (source "label", not rejected or deleted) are the buildings.
- ``reviewed``: accepted footprints (any source) and live human-drawn ones are buildings; rejected predictions are
  background; pending footprints are left out of the loss (their pixels are marked not valid); deleted ones are
  ignored.
Footprints of neighbouring tiles that cross into the tile are included, so buildings cut by the tile edge are whole.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from db.queries import tile_polygons
from db.rules import TRAINING_POLICIES, is_building, is_unknown
from db.schema import Scene, Tile
from model.data import TrainingExample

POLICIES = TRAINING_POLICIES


def tile_example(session: Session, tile: Tile, policy: str = "labels", bands: int = 3) -> TrainingExample:
    """One tile as a TrainingExample (image HxWxbands in [0, 1], instances int32, valid bool)."""
    from geo.raster import to_model_bands
    from geo.tiles import tile_image, tile_instances

    scene: Scene = tile.scene
    image, valid = tile_image(scene, tile)
    rows = tile_polygons(session, tile)
    instances = tile_instances(scene, tile, [fp.geometry for fp in rows if is_building(fp, policy)])
    unknown = [fp.geometry for fp in rows if is_unknown(fp, policy)]
    if unknown:
        valid = valid & ~((tile_instances(scene, tile, unknown) > 0) & (instances == 0))
    return TrainingExample(to_model_bands(image, bands), instances.astype(np.int32), valid, f"tile:{tile.id}")


def tile_examples(session: Session, tile_ids: Sequence[int], policy: str = "labels",
                  bands: int = 3) -> list[TrainingExample]:
    """Examples of the given tiles, in the order given (unknown ids skipped)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy '{policy}'; choose one of {', '.join(POLICIES)}")
    examples = []
    for tile_id in tile_ids:
        tile = session.get(Tile, int(tile_id))
        if tile is not None:
            examples.append(tile_example(session, tile, policy, bands))
    return examples
