"""STAC items: the one image asset of an item a reviewer looks at (its visual / RGB asset), as a URL or path.

Choice, in order: an asset with role ``visual``; an asset named ``visual``, ``rgb`` or ``image``; the first
GeoTIFF asset (media type ``image/tiff``). Relative hrefs are resolved against the item file's folder.
"""
from __future__ import annotations

from pathlib import Path

from errors import UserError

VISUAL_NAMES = ("visual", "rgb", "image")


def item_asset_href(item_path: str | Path) -> str:
    """The href (URL or absolute path) of the visual asset of the STAC item at ``item_path``."""
    import pystac

    path = Path(item_path)
    if not path.is_file():
        raise UserError(f"STAC item '{path}' does not exist; give the path of an item JSON file")
    try:
        item = pystac.Item.from_file(str(path))
    except Exception as exc:  # pystac raises STACTypeError, KeyError, JSONDecodeError ...
        raise UserError(f"'{path}' is not a STAC item ({type(exc).__name__}: {str(exc)[:150]}); "
                        "give an item JSON (type Feature with assets)") from exc
    item.make_asset_hrefs_absolute()
    key = pick_asset(item.assets)
    if key is None:
        names = ", ".join(f"{k} ({a.media_type or 'no type'})" for k, a in item.assets.items()) or "none"
        raise UserError(f"STAC item '{path}' has no visual or GeoTIFF asset (assets: {names}); "
                        "give an item with an RGB GeoTIFF asset")
    return item.assets[key].get_absolute_href() or item.assets[key].href


def pick_asset(assets: dict) -> str | None:
    """The key of the visual asset among a STAC item's assets (see the module docstring), or None."""
    for key, asset in assets.items():
        if "visual" in (asset.roles or []):
            return key
    for name in VISUAL_NAMES:
        for key in assets:
            if key.lower() == name:
                return key
    for key, asset in assets.items():
        if (asset.media_type or "").lower().startswith("image/tiff"):
            return key
    return None
