"""A predict job: predict a project's never-predicted tiles (scenes just added) with the active version.

Queued by the Projects page ("Add scenes" with "Predict the new tiles"), so a big scene never blocks a page
run. Tiles already predicted and reviewed tiles are left exactly as they are."""
from __future__ import annotations

from db.queries import unpredicted_tile_ids
from db.session import transaction
from worker.context import JobContext
from services.queueing import usable_version
from worker.tile_chunks import predict_in_chunks


def run_predict_new(ctx: JobContext) -> None:
    """Predict the project's unreviewed tiles that no model has predicted yet, chunk by chunk; stops between
    chunks when cancelled. The tiles are listed when the job starts, so scenes added while it was queued
    are included."""
    project_id = int(ctx.params["project_id"])
    with transaction() as session:
        version = usable_version(session, "predict with")
        version_id, version_name = version.id, version.name
        tile_ids = unpredicted_tile_ids(session, project_id)
    ctx.log(f"predicting {len(tile_ids)} new tiles with {version_name}")
    ctx.progress({"phase": "predict", "batch": 0, "n_batches": len(tile_ids), "model": version_name},
                 force=True)
    totals = predict_in_chunks(ctx, tile_ids, version_id, "predict", only_unpredicted=True)
    if totals is not None:
        ctx.log(f"predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} reviewed and "
                f"{totals['skipped_predicted']} predicted meanwhile were left alone)")
    return None
