"""A repredict job: after a promotion, predict the tiles nobody has reviewed with the newly active version."""
from __future__ import annotations

from db.schema import ModelVersion
from db.session import transaction
from worker.context import JobContext
from worker.tile_chunks import predict_in_chunks
from services.training_set import unreviewed_tile_ids


def run_repredict(ctx: JobContext) -> None:
    """Re-predict unreviewed tiles chunk by chunk; stops between chunks when cancelled. Reviewed tiles and
    their footprints are never touched (left out here, and predict_tiles skips them too)."""
    version_id = int(ctx.params["model_version_id"])
    with transaction() as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise LookupError(f"model version {version_id} no longer exists")
        tile_ids = unreviewed_tile_ids(session, ctx.params.get("project_id"))
    ctx.log(f"re-predicting up to {len(tile_ids)} unreviewed tiles with {version.name}")
    totals = predict_in_chunks(ctx, tile_ids, version_id, "repredict")
    if totals is not None:
        ctx.log(f"re-predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} found reviewed and "
                "left alone)")
    return None
