"""The two prediction jobs. They run the same way (tiles listed when the job starts, then predicted chunk by
chunk, a cancel honoured between chunks, reviewed tiles never touched) and differ only in which tiles they list:

- ``predict``: the project's never-predicted tiles (scenes just added, queued by the Projects page with
  "Predict the new tiles"), with the active version; tiles another job predicted meanwhile are left alone;
- ``repredict``: after a promotion, every unreviewed tile (of one project, or all) with the promoted version.

When the ``FOOTPRINTS_DASK`` setting names a Dask scheduler (tcp://HOST:8786), the network and vectorising of each
chunk's tiles run on that cluster's workers (``services.predict_tiles.predict_tile`` on a plain copy of each tile
row; the workers need the same data home and scene paths, a shared file system); this worker keeps the database
side: listing, skipping reviewed tiles, storing each chunk in one transaction, honouring a cancel between chunks.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from db.enums import JobKind
from db.queries import unpredicted_tile_ids
from db.schema import ModelVersion
from db.session import transaction
from services.queueing import at_views, usable_version
from services.training_set import unreviewed_tile_ids
from worker.context import JobContext
from worker.tile_chunks import predict_in_chunks


def run_predict_new(ctx: JobContext) -> None:
    """Predict the project's unreviewed tiles that no model has predicted yet. The tiles are listed when the
    job starts, so scenes added while it was queued are included."""
    project_id = int(ctx.params["project_id"])
    views = ctx.params.get("views")
    with transaction() as session:
        version = usable_version(session, "predict with")
        version_id, version_name = version.id, version.name
        tile_ids = unpredicted_tile_ids(session, project_id)
    ctx.log(f"predicting {len(tile_ids)} new tiles with {version_name}" + at_views(views))
    ctx.progress({"phase": JobKind.PREDICT.value, "batch": 0, "n_batches": len(tile_ids), "model": version_name},
                 force=True)
    totals = _predict(ctx, tile_ids, version_id, JobKind.PREDICT.value, only_unpredicted=True, views=views)
    if totals is not None:
        ctx.log(f"predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} reviewed and "
                f"{totals['skipped_predicted']} predicted meanwhile were left alone)")
    return None


def run_repredict(ctx: JobContext) -> None:
    """Re-predict unreviewed tiles with the job's model version. Reviewed tiles and their footprints are never
    touched (left out here, and predict_tiles skips them too)."""
    version_id = int(ctx.params["model_version_id"])
    views = ctx.params.get("views")
    with transaction() as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise LookupError(f"model version {version_id} no longer exists")
        tile_ids = unreviewed_tile_ids(session, ctx.params.get("project_id"))
    ctx.log(f"re-predicting up to {len(tile_ids)} unreviewed tiles with {version.name}" + at_views(views))
    totals = _predict(ctx, tile_ids, version_id, JobKind.REPREDICT.value, views=views)
    if totals is not None:
        ctx.log(f"re-predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} found reviewed and "
                "left alone)")
    return None


def dask_address() -> str | None:
    """The Dask scheduler the prediction jobs use (``FOOTPRINTS_DASK``), or None: predict in this process."""
    return os.environ.get("FOOTPRINTS_DASK", "").strip() or None


def _predict(ctx: JobContext, tile_ids: Sequence[int], version_id: int, phase: str,
             only_unpredicted: bool = False, views: int | None = None) -> dict[str, int] | None:
    address = dask_address()
    if address is None:
        return predict_in_chunks(ctx, tile_ids, version_id, phase, only_unpredicted, views)
    ctx.log(f"predicting on the Dask cluster at {address}")
    return predict_in_chunks_on_dask(ctx, tile_ids, version_id, phase, address, only_unpredicted, views)


def _plain_tile(tile: Any) -> SimpleNamespace:
    """What ``predict_tile`` reads of a tile row and its scene, detached from the session (it travels)."""
    scene = tile.scene
    return SimpleNamespace(id=tile.id, col_off=tile.col_off, row_off=tile.row_off, width=tile.width,
                           height=tile.height, scene=SimpleNamespace(
                               path=scene.path, crs=scene.crs, transform=tuple(scene.transform),
                               pixel_size_m=scene.pixel_size_m, band_stats=scene.band_stats, nodata=scene.nodata))


def _predict_plain_tile(tile: SimpleNamespace, version: SimpleNamespace, views: int | None = None) -> Any:
    """Runs on a Dask worker: network, vectorising and the tile's heatmap file (no database)."""
    from services.predict_tiles import predict_tile

    return predict_tile(tile, version, views=views)


def predict_in_chunks_on_dask(ctx: JobContext, tile_ids: Sequence[int], version_id: int, phase: str,
                              address: str, only_unpredicted: bool = False,
                              views: int | None = None) -> dict[str, int] | None:
    """``worker.tile_chunks.predict_in_chunks`` with the tiles of each chunk predicted on the cluster."""
    from distributed import Client
    from sqlalchemy import or_, select

    from db.rules import is_touched
    from db.schema import Tile
    from services.predict_tiles import store_prediction
    from worker.tile_chunks import CHUNK_TILES, COUNTS

    totals, done = dict.fromkeys(COUNTS, 0), 0
    with Client(address, timeout="20s") as client:
        for start in range(0, len(tile_ids), CHUNK_TILES):
            if ctx.should_stop():
                ctx.log(f"cancelled after {done} tiles")
                return None
            chunk = list(tile_ids[start:start + CHUNK_TILES])
            with transaction() as session:
                version = session.get(ModelVersion, version_id)
                plain_version = SimpleNamespace(id=version.id, path=version.path, head=version.head)
                query = select(Tile).where(Tile.id.in_(chunk))
                if only_unpredicted:
                    query = query.where(or_(Tile.predicted_at.is_(None), Tile.model_version_id.is_(None)))
                tiles = list(session.scalars(query))
                totals["skipped_predicted"] += len(chunk) - len(tiles)
                todo = [_plain_tile(t) for t in tiles if not is_touched(session, t)]
                totals["skipped_reviewed"] += len(tiles) - len(todo)
            futures = [client.submit(_predict_plain_tile, t, plain_version, views, pure=False) for t in todo]
            results = client.gather(futures)
            with transaction() as session:  # one transaction per chunk, reviewed-meanwhile tiles left alone
                version = session.get(ModelVersion, version_id)
                for plain, result in zip(todo, results):
                    tile = session.get(Tile, plain.id)
                    if tile is None or is_touched(session, tile):
                        totals["skipped_reviewed"] += 1
                        continue
                    store_prediction(session, tile, version, result)
                    totals["predicted"] += 1
            done += len(chunk)
            ctx.progress({"phase": phase, "batch": done, "n_batches": len(tile_ids),
                          "predicted": totals["predicted"]}, force=True)
    return totals
