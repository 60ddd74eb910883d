"""Model versions as plain rows for the command line and the Models page."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.schema import ModelVersion

METRIC_KEYS = ("pixel_iou", "f1", "precision", "recall", "fused_rate")


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """``{"new": {...}, "base": {...}}`` -> ``f1``, ``base_f1``, ...; other layouts pass numbers through."""
    metrics = metrics or {}
    flat: dict[str, Any] = {}
    if isinstance(metrics.get("new"), dict):
        for key in METRIC_KEYS:
            flat[key] = metrics["new"].get(key)
            flat[f"base_{key}"] = (metrics.get("base") or {}).get(key)
        flat["val_tiles"] = metrics.get("val_tiles")
        return flat
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def version_rows(session: Session) -> list[dict[str, Any]]:
    """Every model version, newest first, with its metrics flattened for a table."""
    versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
    return [{
        "id": v.id, "name": v.name, "active": bool(v.is_active), "preset": v.preset, "head": v.head,
        "train_tiles": v.train_tiles, "parent": names.get(v.parent_id), "created_at": str(v.created_at)[:19],
        **_flat_metrics(v.metrics),
    } for v in versions]
