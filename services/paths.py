"""Server paths typed into the app: only files under the configured import roots.

``FOOTPRINTS_IMPORT_ROOTS`` lists the folders (separated by ``os.pathsep``, ":" on Linux and macOS); the default is
``<data home>/imports``, created on first use. A typed path is resolved first (symlinks and ``..`` followed, a
relative path taken inside the first root) and then must lie inside a root and be a readable file. Every refusal
gives the same message, so the app cannot be used to learn which files exist elsewhere on the server.

The command line (``footprints ingest``) is run by the operator on their own machine and reads any path they give;
only what arrives through the app goes through here.
"""
from __future__ import annotations

import os
from pathlib import Path

from errors import UserError
from db.settings import data_home

IMPORT_ROOTS_ENV = "FOOTPRINTS_IMPORT_ROOTS"
DEFAULT_IMPORT_FOLDER = "imports"


def import_roots() -> list[Path]:
    """The import roots, resolved; the default root is created when missing."""
    text = os.environ.get(IMPORT_ROOTS_ENV, "")
    roots = [Path(part).resolve() for part in text.split(os.pathsep) if part.strip()]
    if roots:
        return roots
    default = data_home() / DEFAULT_IMPORT_FOLDER
    default.mkdir(parents=True, exist_ok=True)
    return [default.resolve()]


def refused_message(text: str) -> str:
    """The one message for any refused path (missing, unreadable, a folder, or outside the roots alike)."""
    roots = os.pathsep.join(str(r) for r in import_roots())
    shown = text if len(text) <= 200 else text[:200] + "..."
    return (f"cannot use '{shown}': give a readable file under the import folder ({roots}); ask an administrator "
            f"to copy data there or to set {IMPORT_ROOTS_ENV}")


def confine_path(text: str | os.PathLike[str]) -> str:
    """The resolved path of a readable file under an import root; UserError (always ``refused_message``) else."""
    raw = str(text).strip()
    roots = import_roots()
    try:
        if not raw or "\x00" in raw:
            raise ValueError("empty or NUL")
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = roots[0] / candidate
        resolved = candidate.resolve(strict=True)
        if not any(resolved.is_relative_to(root) for root in roots) or not resolved.is_file():
            raise ValueError("outside the roots or not a file")
        with open(resolved, "rb"):
            pass
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
        raise UserError(refused_message(raw)) from exc
    return str(resolved)


def confine_paths(texts: list[str]) -> list[str]:
    """``confine_path`` for each typed path, in order."""
    return [confine_path(t) for t in texts]


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF, both byte orders
SQLITE_MAGIC = b"SQLite format 3\x00"  # GeoPackage
LABEL_SUFFIXES = (".geojson", ".json", ".gpkg")


def require_geotiff(path: str | os.PathLike[str], shown: str | None = None) -> str:
    """``path`` when the file starts like a TIFF. Scenes from the app must be GeoTIFFs: GDAL recognises formats
    by content, and a VRT (XML) under any name could make it read other files of the server."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head not in TIFF_MAGIC:
        raise UserError(f"'{shown or Path(path).name}' is not a GeoTIFF; add scenes as GeoTIFF (.tif) files")
    return str(path)


def require_label_file(path: str | os.PathLike[str], shown: str | None = None) -> str:
    """``path`` when it is a GeoJSON (read as JSON, never by GDAL) or a GeoPackage (an SQLite file)."""
    name = shown or Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise UserError(f"labels '{name}' must be a GeoJSON (.geojson, .json) or a GeoPackage (.gpkg) file")
    if suffix == ".gpkg":
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise UserError(f"labels '{name}' are not a GeoPackage; give a .gpkg written by a GIS")
    return str(path)


OSM_SUFFIXES = (".osm", ".pbf", ".geojson", ".json")  # .osm.pbf ends in .pbf


def require_osm_file(path: str | os.PathLike[str], shown: str | None = None) -> str:
    """``path`` when it is an OSM XML file (its first element is ``<osm``), an OSM PBF file (an ``OSMHeader``
    block first) or a GeoJSON: what GDAL then reads cannot be a VRT or another format under a borrowed name."""
    name = shown or Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix not in OSM_SUFFIXES:
        raise UserError(f"'{name}' is not an OSM extract; give an .osm, .osm.pbf or GeoJSON file")
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if suffix == ".osm":
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[-1].lstrip()
        ok = text.startswith("<osm")
    elif suffix == ".pbf":
        ok = b"OSMHeader" in head[:64]
    else:
        ok = head.lstrip()[:1] == b"{"
    if not ok:
        raise UserError(f"'{name}' is not an OSM extract; give an .osm, .osm.pbf or GeoJSON file")
    return str(path)


def confine_osm(text: str) -> str:
    """A typed OSM extract path: under an import root and an OSM XML / PBF or GeoJSON file."""
    return require_osm_file(confine_path(text), str(text).strip())


def confine_scene(text: str) -> str:
    """A typed scene path: under an import root (``confine_path``) and a GeoTIFF."""
    return require_geotiff(confine_path(text), str(text).strip())


def confine_labels(text: str) -> str:
    """A typed labels path: under an import root and a GeoJSON or GeoPackage."""
    return require_label_file(confine_path(text), str(text).strip())
