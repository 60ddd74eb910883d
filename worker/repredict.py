"""A repredict job: after a promotion, predict the tiles nobody has reviewed with the newly active version."""
from __future__ import annotations

from db.schema import ModelVersion
from db.session import transaction
from worker.context import JobContext
from worker.trainset import unreviewed_tile_ids

CHUNK_TILES = 4  # one short transaction per chunk: the review app never waits long for the write lock


def run_repredict(ctx: JobContext) -> None:
    """Re-predict unreviewed tiles chunk by chunk; stops between chunks when cancelled. Reviewed tiles and
    their footprints are never touched (left out here, and predict_tiles skips them too)."""
    from db.predictions import predict_tiles

    version_id = int(ctx.params["model_version_id"])
    with transaction() as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise LookupError(f"model version {version_id} no longer exists")
        tile_ids = unreviewed_tile_ids(session, ctx.params.get("project_id"))
    ctx.log(f"re-predicting up to {len(tile_ids)} unreviewed tiles with {version.name}")
    done, skipped = 0, 0
    for start in range(0, len(tile_ids), CHUNK_TILES):
        if ctx.should_stop():
            ctx.log(f"cancelled after {done} tiles")
            return None
        chunk = tile_ids[start:start + CHUNK_TILES]
        with transaction() as session:
            counts = predict_tiles(session, chunk, session.get(ModelVersion, version_id))
        done += len(chunk)
        skipped += counts.get("skipped_reviewed", 0)
        ctx.progress({"phase": "repredict", "batch": done, "n_batches": len(tile_ids)}, force=True)
    ctx.log(f"re-predicted {done - skipped} tiles ({skipped} found reviewed and left alone)")
    return None
