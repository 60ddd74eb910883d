"""The footprint editor component: an SVG over the tile image for select / draw / vertex edit / split line.

Geometry comes back in tile pixel coordinates (x = column, y = row) as the state value ``shape``:
``{"kind": "select"|"polygon"|"edit"|"line", "nonce": n, "tile_id": t, "points": [[x, y], ...], "id", "version",
"ids"}``. The nonce (from ``data``) lets the page ignore a shape it has already applied."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

HERE = Path(__file__).resolve().parent
MODES = {"select": "Select", "draw": "Draw missed building", "edit": "Edit vertices", "split": "Split along a line"}

_EDITOR = st.components.v2.component(
    "footprint_studio.editor",
    html="<div class='fp-root'></div>",
    css=(HERE / "editor.css").read_text(encoding="utf-8"),
    js=(HERE / "editor.js").read_text(encoding="utf-8"),
)


def _keep() -> None:
    """State changes only need a rerun; the page reads the value (no logic in callbacks)."""


def footprint_editor(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Mount the editor with ``data`` (image, width, height, footprints with pixel rings, mode, nonce, preview);
    returns the latest shape, or None."""
    result = _EDITOR(key=key, data=data, default={"shape": None}, on_shape_change=_keep)
    shape = result.get("shape") if hasattr(result, "get") else None
    return shape if isinstance(shape, dict) else None
