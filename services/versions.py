"""Model versions as plain rows for the command line and the Models page: metrics flattened for a table, what
the validation figures rest on, a warning when a fine-tuned version scored worse than the version that was
active on the same tiles, and the real-data scores per place from the version's model card."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.schema import ModelVersion

METRIC_KEYS = ("pixel_iou", "f1", "precision", "recall", "fused_rate")
COMPARED = ("base", "active")  # scored beside the new version on the same validation tiles (worker/retrain.py)
REAL_EVAL_KEYS = ("f1", "precision", "recall", "buildings")


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """``{"new": {...}, "base": {...}, "active": {...}}`` -> ``f1``, ``base_f1``, ``active_f1``, ...; other
    layouts pass numbers through."""
    metrics = metrics or {}
    flat: dict[str, Any] = {}
    if isinstance(metrics.get("new"), dict):
        for key in METRIC_KEYS:
            flat[key] = metrics["new"].get(key)
            for other in COMPARED:
                flat[f"{other}_{key}"] = (metrics.get(other) or {}).get(key)
        flat["val_tiles"] = metrics.get("val_tiles")
        flat["val_pixels"] = metrics.get("val_pixels")
        return flat
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def validation_basis(metrics: dict[str, Any] | None) -> str | None:
    """"on N tiles, M pixels": what a version's validation figures rest on (None without figures)."""
    metrics = metrics or {}
    tiles = metrics.get("val_tiles")
    if not tiles:
        return None
    if metrics.get("val_pixels") is None:
        return (f"on {_plural(int(tiles), 'tile')} (pixel count not recorded: scored before whole-tile "
                "validation, with pending predictions masked out)")
    return f"on {_plural(int(tiles), 'tile')}, {_plural(int(metrics['val_pixels']), 'pixel')}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _figures(scores: dict[str, Any]) -> str:
    return f"pixel IoU {_num(scores.get('pixel_iou'))}, F1 {_num(scores.get('f1'))}"


def validation_line(metrics: dict[str, Any] | None) -> str | None:
    """The validation figures of a fine-tuned version and of the versions scored beside it, with their basis."""
    metrics = metrics or {}
    if not isinstance(metrics.get("new"), dict):
        return None
    line = f"Validation: {_figures(metrics['new'])} {validation_basis(metrics) or ''}".rstrip()
    base_name, active_name = metrics.get("base_version"), metrics.get("active_version")
    if isinstance(metrics.get("base"), dict):
        role = "base (then active)" if active_name and active_name == base_name else "base"
        line += f"; {role} version {base_name or '?'}: {_figures(metrics['base'])}"
    if isinstance(metrics.get("active"), dict) and active_name != base_name:
        line += f"; then active version {active_name or '?'}: {_figures(metrics['active'])}"
    return line + "."


def worse_than_active(metrics: dict[str, Any] | None, active_now: str | None = None) -> str | None:
    """A warning when the version scored below the version that was active when it was evaluated, on the same
    tiles (lower pixel IoU or lower F1); None when it did not, or when no such comparison was recorded."""
    metrics = metrics or {}
    new, ref = metrics.get("new"), metrics.get("active")
    if not isinstance(new, dict) or not isinstance(ref, dict):
        return None
    pairs = {key: (new.get(key), ref.get(key)) for key in ("pixel_iou", "f1")}
    if not any(a is not None and b is not None and a < b for a, b in pairs.values()):
        return None
    name = metrics.get("active_version")
    tiles = int(metrics.get("val_tiles") or 0)
    figures = ", ".join(f"{'IoU' if key == 'pixel_iou' else 'F1'} {_num(a)} vs {_num(b)}"
                        for key, (a, b) in pairs.items() if a is not None and b is not None)
    who = "" if not name else (f" ({name}, still active)" if name == active_now
                                else f" ({name}, active when this one was evaluated)")
    return f"worse than the active version on the same {_plural(tiles, 'tile')}: {figures}{who}"


def version_card(version: ModelVersion) -> dict[str, Any]:
    """The version's model card: the file next to its model (``model.predict.existing_card_path``), which may carry
    scores added after registration; else the card stored with the row."""
    from model.predict import existing_card_path

    candidate = existing_card_path(version.path)
    if candidate is not None:
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            return data
    return dict(version.card or {})


def real_eval(card: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card's real-data scores (``real_eval``): one row per place (f1, precision, recall, buildings, and any
    other figure given), the mean F1 and the protocol; None when the card has none."""
    block = (card or {}).get("real_eval")
    places = block.get("places") if isinstance(block, dict) else None
    if not isinstance(places, dict) or not places:
        return None
    extra = sorted({k for s in places.values() if isinstance(s, dict) for k in s} - set(REAL_EVAL_KEYS))
    rows = [{"place": place, **{k: (scores or {}).get(k) for k in (*REAL_EVAL_KEYS, *extra)}}
            for place, scores in sorted(places.items())]
    return {"rows": rows, "mean_f1": block.get("mean_f1"), "protocol": block.get("protocol")}


def version_rows(session: Session) -> list[dict[str, Any]]:
    """Every model version, newest first, with its metrics flattened for a table, the basis of its validation
    figures, a warning when it scored below the then-active version, and its real-data scores (or None)."""
    versions = list(session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())))
    names = {v.id: v.name for v in versions}
    active_now = next((v.name for v in versions if v.is_active), None)
    return [{
        "id": v.id, "name": v.name, "active": bool(v.is_active), "preset": v.preset, "head": v.head,
        "train_tiles": v.train_tiles, "parent": names.get(v.parent_id), "created_at": str(v.created_at)[:19],
        **_flat_metrics(v.metrics), "basis": validation_basis(v.metrics), "validation": validation_line(v.metrics),
        "warning": worse_than_active(v.metrics, active_now), **_real_eval_fields(version_card(v)),
    } for v in versions]


def _real_eval_fields(card: dict[str, Any]) -> dict[str, Any]:
    scores = real_eval(card)
    return {"real_mean_f1": scores["mean_f1"] if scores else None, "real_eval": scores}
