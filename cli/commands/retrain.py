"""``footprints retrain``: queue fine-tuning of the active model on a project's reviewed tiles."""
from __future__ import annotations

import argparse
from typing import Any

from services.queueing import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "retrain", help="queue a retrain job on the project's reviewed tiles",
        description="Queue fine-tuning of the active model version on the reviewed tiles of a project. "
                    "A worker (`footprints worker`, started by the app) runs it.")
    parser.add_argument("--project", required=True, help="project name")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help=f"tiles per batch (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE,
                        help=f"learning rate (default {DEFAULT_LEARNING_RATE})")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    from db.session import transaction
    from db.queries import get_project
    from services.authz import SYSTEM
    from services.queueing import queue_retrain

    with transaction() as session:
        project = get_project(session, args.project)
        job = queue_retrain(session, project.id, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, actor=SYSTEM)  # the local operator
        params = dict(job.params)
        return {"job": job.id, "status": job.status, "project": project.name, "epochs": params["epochs"],
                "batch_size": params["batch_size"], "learning_rate": params["learning_rate"],
                "base_model": params["base_model_name"], "train_tiles": len(params["train_tile_ids"]),
                "val_tiles": len(params["val_tile_ids"]),
                "note": "a worker runs it: the app starts one, or run `footprints worker` (or `--once`)"}
