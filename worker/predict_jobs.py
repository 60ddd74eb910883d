"""The two prediction jobs. They run the same way (tiles listed when the job starts, then predicted chunk by
chunk, a cancel honoured between chunks, reviewed tiles never touched) and differ only in which tiles they list:

- ``predict``: the project's never-predicted tiles (scenes just added, queued by the Projects page with
  "Predict the new tiles"), with the active version; tiles another job predicted meanwhile are left alone;
- ``repredict``: after a promotion, every unreviewed tile (of one project, or all) with the promoted version.
"""
from __future__ import annotations

from db.enums import JobKind
from db.queries import unpredicted_tile_ids
from db.schema import ModelVersion
from db.session import transaction
from services.queueing import usable_version
from services.training_set import unreviewed_tile_ids
from worker.context import JobContext
from worker.tile_chunks import predict_in_chunks


def run_predict_new(ctx: JobContext) -> None:
    """Predict the project's unreviewed tiles that no model has predicted yet. The tiles are listed when the
    job starts, so scenes added while it was queued are included."""
    project_id = int(ctx.params["project_id"])
    with transaction() as session:
        version = usable_version(session, "predict with")
        version_id, version_name = version.id, version.name
        tile_ids = unpredicted_tile_ids(session, project_id)
    ctx.log(f"predicting {len(tile_ids)} new tiles with {version_name}")
    ctx.progress({"phase": JobKind.PREDICT.value, "batch": 0, "n_batches": len(tile_ids), "model": version_name},
                 force=True)
    totals = predict_in_chunks(ctx, tile_ids, version_id, JobKind.PREDICT.value, only_unpredicted=True)
    if totals is not None:
        ctx.log(f"predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} reviewed and "
                f"{totals['skipped_predicted']} predicted meanwhile were left alone)")
    return None


def run_repredict(ctx: JobContext) -> None:
    """Re-predict unreviewed tiles with the job's model version. Reviewed tiles and their footprints are never
    touched (left out here, and predict_tiles skips them too)."""
    version_id = int(ctx.params["model_version_id"])
    with transaction() as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise LookupError(f"model version {version_id} no longer exists")
        tile_ids = unreviewed_tile_ids(session, ctx.params.get("project_id"))
    ctx.log(f"re-predicting up to {len(tile_ids)} unreviewed tiles with {version.name}")
    totals = predict_in_chunks(ctx, tile_ids, version_id, JobKind.REPREDICT.value)
    if totals is not None:
        ctx.log(f"re-predicted {totals['predicted']} tiles ({totals['skipped_reviewed']} found reviewed and "
                "left alone)")
    return None
