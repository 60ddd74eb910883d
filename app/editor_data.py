"""The data the footprint editor component draws: the tile image and footprints in tile pixel coordinates."""
from __future__ import annotations

from typing import Any

from app.tile_view import TileView
from geo.edit import rings_to_pixels


def editor_data(view: TileView, image_url: str, mode: str, nonce: int, selected: dict[int, int],
                preview: dict | None = None) -> dict[str, Any]:
    """JSON-ready editor input; rings are reprojected to pixels with one call for all footprints."""
    rings = rings_to_pixels([fp["ring"] for fp in view.footprints], view.transform, view.crs)
    footprints = [{"id": fp["id"], "version": fp["version"], "status": fp["status"], "fused": fp["fused"],
                   "pts": ring} for fp, ring in zip(view.footprints, rings)]
    parts = preview["parts_px"] if preview and preview.get("tile_id") == view.tile_id else []
    return {"tile_id": view.tile_id, "image": image_url, "width": view.width, "height": view.height,
            "footprints": footprints, "mode": mode, "nonce": nonce, "selected": list(selected),
            "preview": [[list(p) for p in part] for part in parts]}
