"""The fixed vocabularies stored as plain strings: footprint statuses and sources, tile review states, job kinds,
job statuses and user roles. Each is a ``StrEnum``, so a member equals its string ("accepted" == FootprintStatus.ACCEPTED)
and can be written to and compared with the String columns directly."""
from __future__ import annotations

from enum import StrEnum


class FootprintStatus(StrEnum):
    PENDING = "pending"    # a model footprint nobody has judged yet
    ACCEPTED = "accepted"  # a building (labels are stored accepted, human-drawn ones too)
    REJECTED = "rejected"  # not a building: background for training
    DELETED = "deleted"    # hidden, kept for undo and history


class FootprintSource(StrEnum):
    LABEL = "label"  # imported with a scene
    MODEL = "model"  # predicted
    HUMAN = "human"  # drawn, split, merged or edited by a reviewer


class TileState(StrEnum):
    UNREVIEWED = "unreviewed"
    IN_PROGRESS = "in_progress"
    REVIEWED = "reviewed"


class JobKind(StrEnum):
    RETRAIN = "retrain"      # fine-tune the active version on reviewed tiles
    REPREDICT = "repredict"  # after a promotion: every unreviewed tile
    PREDICT = "predict"      # never-predicted tiles of new scenes


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Role(StrEnum):
    REVIEWER = "reviewer"  # review and export
    ADMIN = "admin"        # also projects, scenes, retrain, promote, roll back, cancel jobs, users
