"""The review map component (Streamlit components v2): deck.gl + @deck.gl-community/editable-layers, bundled into
``review_map/dist/review_map.js`` (``npm run build`` in ``app/components/review_map``; Node.js is needed only to
rebuild it, never to run the app).

The bundle and the tile imagery are served by Streamlit's components-v2 asset route
(``/_stcore/bidi-components/<name>/<file>``, ``Cache-Control: public``), so the browser loads the 1.4 MB bundle
once and each tile's image and heatmap once, instead of receiving them inline with every rerun. Both asset folders
are registered with the running Streamlit runtime as component manifests (the API installed packages use through
``pyproject.toml``); the imagery folder lives in the data home (``app.images``).

The component reports one trigger value, ``intent``: the edit a reviewer asked for, e.g.
``{"seq": 7, "action": "accept", "tile_id": 3, "ids": {"12": 1}}`` or ``{"action": "edit", "ids": {"12": 2},
"geometry": <GeoJSON in lon/lat>}``. Python validates and commits it (``app.review_actions.perform``) and sends
the new truth back with ``ack`` = that seq and the outcome."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

PACKAGE = "footprint_studio"
MAP_NAME, IMAGES_NAME = f"{PACKAGE}.review_map", f"{PACKAGE}.tile_images"
BUNDLE_ROOT = Path(__file__).resolve().parent / "review_map"
BUNDLE_DIR, BUNDLE_FILE = "dist", "review_map.js"
ASSET_ROUTE = "/_stcore/bidi-components"


def _manager():
    from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager

    return get_bidi_component_manager()


def register_assets(name: str, root: Path, folder: str) -> None:
    """Serve ``root/folder`` under ``/_stcore/bidi-components/<name>/`` on the running runtime (once per runtime)."""
    manager = _manager()
    if manager.get(name) is not None and manager.get_component_path(name) is not None:
        return
    component = name.split(".", 1)[1]
    (root / folder).mkdir(parents=True, exist_ok=True)
    manager.register_from_manifest(ComponentManifest(PACKAGE, "1", [ComponentConfig(component, folder)]), root)


def asset_url(name: str, filename: str) -> str:
    """The URL the browser fetches ``filename`` of the asset folder registered as ``name`` from."""
    return f"{ASSET_ROUTE}/{name}/{filename}"


_MOUNT = None


def _mount():
    """The component's mounting command, declared once the bundle's folder is registered (its js is a path)."""
    global _MOUNT
    register_assets(MAP_NAME, BUNDLE_ROOT, BUNDLE_DIR)
    if _MOUNT is None:
        _MOUNT = st.components.v2.component(MAP_NAME, html="<div class='rm-root'></div>", js=BUNDLE_FILE)
    return _MOUNT


def _keep() -> None:
    """Intents only need a rerun; the page reads them before drawing (no logic in callbacks)."""


def review_map(data: dict[str, Any], key: str) -> None:
    """Mount the map with ``data`` (``app.map_view.map_data``)."""
    _mount()(key=key, data=data, on_intent_change=_keep, height="content")


def pending_intent(key: str) -> dict[str, Any] | None:
    """The intent the component sent since the last run (read before the page draws), else None."""
    value = st.session_state.get(key)
    intent = value.get("intent") if hasattr(value, "get") else None
    return intent if isinstance(intent, dict) and intent.get("action") else None
