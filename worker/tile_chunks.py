"""Predict tiles inside a worker job: one short transaction per chunk, a cancel honoured between chunks."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from db.schema import ModelVersion, Tile
from db.session import transaction
from worker.context import JobContext

CHUNK_TILES = 4  # one short transaction per chunk: the review app never waits long for the write lock
COUNTS = ("predicted", "skipped_reviewed", "skipped_predicted")


def predict_chunk(tile_ids: Sequence[int], version_id: int, only_unpredicted: bool = False,
                  views: int | None = None) -> dict[str, int]:
    """Predict one chunk in one transaction (``views`` test-time views, default the card's). Reviewed tiles are
    skipped (by predict_tiles); with ``only_unpredicted`` so are tiles some other job predicted since this one
    listed them."""
    from services.predict_tiles import predict_tiles

    with transaction() as session:
        wanted = list(tile_ids)
        if only_unpredicted:
            fresh = set(session.scalars(select(Tile.id).where(
                Tile.id.in_(wanted), or_(Tile.predicted_at.is_(None), Tile.model_version_id.is_(None)))))
            wanted = [t for t in wanted if t in fresh]
        counts = predict_tiles(session, wanted, session.get(ModelVersion, version_id), views=views)
    return {**counts, "skipped_predicted": len(tile_ids) - len(wanted)}


def predict_in_chunks(ctx: JobContext, tile_ids: Sequence[int], version_id: int, phase: str,
                      only_unpredicted: bool = False, views: int | None = None) -> dict[str, int] | None:
    """Predict ``tile_ids`` CHUNK_TILES at a time, reporting progress (batch = tiles done, n_batches = all)
    after each chunk. Returns the summed counts, or None when a cancel stopped it between chunks."""
    totals = dict.fromkeys(COUNTS, 0)
    done = 0
    for start in range(0, len(tile_ids), CHUNK_TILES):
        if ctx.should_stop():
            ctx.log(f"cancelled after {done} tiles")
            return None
        chunk = list(tile_ids[start:start + CHUNK_TILES])
        counts = predict_chunk(chunk, version_id, only_unpredicted, views)
        totals = {k: totals[k] + counts.get(k, 0) for k in COUNTS}
        done += len(chunk)
        ctx.progress({"phase": phase, "batch": done, "n_batches": len(tile_ids),
                      "predicted": totals["predicted"]}, force=True)
    return totals
