"""Training examples from database tiles: the tile's pixels (read from the scene file) and its footprints
rasterized into an instance image.

Policies:
- ``labels``: label footprints (source "label", not rejected or deleted) are the buildings.
- ``reviewed``: accepted footprints (any source) and live human-drawn ones are buildings; rejected predictions are
  background; pending footprints are left out of the loss (their pixels are marked not valid); deleted ones are
  ignored.
``mask_unknown=False`` keeps the pending footprints' pixels as background instead of leaving them out: a retrain
validates on whole tiles that way, so its figures cannot be flattered by masking the model's own mistakes.
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


def tile_example(session: Session, tile: Tile, policy: str = "labels", bands: int = 3,
                 mask_unknown: bool = True, gsd_m: float | None = None) -> TrainingExample:
    """One tile as a TrainingExample (image HxWxbands in [0, 1], instances int32, valid bool), at the model's
    ``gsd_m`` when given. With ``mask_unknown`` the pixels of footprints the policy calls unknown are not valid;
    without, they are background."""
    from geo.raster import to_model_bands
    from geo.tiles import tile_image, tile_instances

    scene: Scene = tile.scene
    image, valid = tile_image(scene, tile, gsd_m)
    rows = tile_polygons(session, tile)
    instances = tile_instances(scene, tile, [fp.geometry for fp in rows if is_building(fp, policy)], gsd_m)
    unknown = [fp.geometry for fp in rows if mask_unknown and is_unknown(fp, policy)]
    if unknown:
        valid = valid & ~((tile_instances(scene, tile, unknown, gsd_m) > 0) & (instances == 0))
    return TrainingExample(to_model_bands(image, bands), instances.astype(np.int32), valid, f"tile:{tile.id}")


def tile_examples(session: Session, tile_ids: Sequence[int], policy: str = "labels", bands: int = 3,
                  mask_unknown: bool = True, gsd_m: float | None = None) -> list[TrainingExample]:
    """Examples of the given tiles, in the order given (unknown ids skipped); ``mask_unknown`` as in
    ``tile_example``."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy '{policy}'; choose one of {', '.join(POLICIES)}")
    examples = []
    for tile_id in tile_ids:
        tile = session.get(Tile, int(tile_id))
        if tile is not None:
            examples.append(tile_example(session, tile, policy, bands, mask_unknown, gsd_m))
    return examples
