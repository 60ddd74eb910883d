"""Scene prediction spread over a Dask cluster (``footprints predict --workers N`` or ``--cluster tcp://HOST:8786``).

What runs where:
- the client (the ``footprints predict`` process) lists the scene's blocks, sends them to the cluster a few at a
  time, and writes the results in block order into the GeoJSON and heatmap GeoTIFF (model/scene_predict.py's
  writer, the same as on one machine);
- each Dask worker loads the model once (``PredictorPlugin``, a worker plugin), then for each block reads the
  block's pixels from the scene path, runs the network and vectorises (``scene_predict.predict_block``), and sends
  back the block's polygons and heatmap core.

Blocks never blend with each other (each owns its core and reads a margin of context around it), so the result is
identical to the single-process one whatever worker computes which block. Workers must reach the scene and the
model at the same paths as the client (a shared file system), and run the same project version.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin

from errors import UserError
from model.scene_predict import Block, BlockResult, BlockRunner, SceneJob, predict_block

PLUGIN_PREFIX = "footprints-predictor"
_PREDICTORS: dict[tuple[str, str], Any] = {}  # per worker process: (model path, precision) -> Predictor


def _load(model_path: str, precision: str) -> Any:
    from model.precision import with_precision
    from model.predict import Predictor

    key = (model_path, precision)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = with_precision(Predictor.load(model_path), precision)
    return _PREDICTORS[key]


class PredictorPlugin(WorkerPlugin):
    """Loads the model once per Dask worker, when the worker joins (or when the plugin is registered)."""

    def __init__(self, model_path: str, precision: str):
        self.model_path, self.precision = model_path, precision
        self.name = f"{PLUGIN_PREFIX}-{precision}-{model_path}"

    def setup(self, worker: Any) -> None:
        _load(self.model_path, self.precision)


def _run_block(model_path: str, precision: str, job: SceneJob, block: Block) -> BlockResult:
    """One block on a worker, with the worker's loaded model."""
    return predict_block(_load(model_path, precision), job, block)


def dask_runner(client: Client, model_path: str | Path, precision: str, in_flight: int | None = None) -> BlockRunner:
    """A block runner that computes blocks on the cluster behind ``client``: ``in_flight`` blocks at a time
    (default: two per worker thread), results handed back in block order, so the client holds at most that many."""
    model_path = str(Path(model_path).resolve())
    client.register_plugin(PredictorPlugin(model_path, precision))

    def run(job: SceneJob, blocks: list[Block]) -> Iterator[BlockResult]:
        limit = in_flight or max(2, 2 * sum(client.nthreads().values()))
        pending: deque = deque()
        todo = iter(blocks)
        for block in todo:
            pending.append(client.submit(_run_block, model_path, precision, job, block, pure=False))
            if len(pending) >= limit:
                break
        while pending:
            future = pending.popleft()
            result = future.result()
            future.release()
            for block in todo:
                pending.append(client.submit(_run_block, model_path, precision, job, block, pure=False))
                break
            yield result

    return run


def worker_env(workers: int) -> dict[str, str]:
    """Thread counts for each local worker process: the machine's cores shared out, so N workers do not each
    start a thread per core (Dask's nanny would otherwise set one thread each)."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    return {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1",
            "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}


@contextmanager
def dask_client(workers: int = 2, address: str | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``address`` (tcp://HOST:8786), or of a LocalCluster of ``workers`` processes
    (one thread each) that lives as long as the block."""
    if address:
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at '{address}' ({type(exc).__name__}); start one "
                            "with `dask scheduler` and give its tcp://HOST:8786 address") from exc
        with client:
            yield client
        return
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    logging.getLogger("distributed.nanny").setLevel(logging.ERROR)  # "still alive after 4 s, killing" on close
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=worker_env(workers)) as cluster, Client(cluster) as client:
        yield client
