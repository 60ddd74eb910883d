"""The job-kind registry: for each kind, the function the worker runs and the label people read.

The runner is named as "module:function" and imported by the worker only when a job of that kind starts
(services sit below worker/, so they name it rather than import it; importing the retrain runner loads Keras)."""
from __future__ import annotations

from typing import NamedTuple

from db.enums import JobKind


class KindSpec(NamedTuple):
    runner: str  # "module:function" taking a worker.context.JobContext
    label: str


JOB_KINDS: dict[str, KindSpec] = {
    JobKind.RETRAIN: KindSpec("worker.retrain:run_retrain", "retrain"),
    JobKind.REPREDICT: KindSpec("worker.predict_jobs:run_repredict", "re-predict (new model)"),
    JobKind.PREDICT: KindSpec("worker.predict_jobs:run_predict_new", "predict new tiles"),
}
PREDICTION_KINDS = (JobKind.PREDICT.value, JobKind.REPREDICT.value)


def kind_label(kind: str) -> str:
    """A job kind as people read it (the kind itself when unknown)."""
    spec = JOB_KINDS.get(kind)
    return spec.label if spec else kind
