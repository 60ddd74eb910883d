"""Export a project's footprints as RFC 7946 GeoJSON, GeoPackage, GeoParquet, FlatGeobuf or a JOSM ``.osm`` file
(optionally conflated with OpenStreetMap), and its heatmaps as one COG per scene. Rows are read with a
server-side cursor (``yield_per``) and handed one by one to the writers in ``geo.export`` / ``geo.osm``."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from db.enums import FootprintStatus
from db.schema import Footprint, ModelVersion, Scene, Tile
from errors import UserError
from geo.cog import write_mosaic_cog
from geo.export import (PROPERTIES, Feature, row_feature, write_fgb, write_geojson, write_gpkg,
                        write_parquet)
from geo.osm import Conflation, buildings_geojson, write_osm
from geo.raster import as_affine

__all__ = ["PROPERTIES", "DEFAULT_STATUSES", "export_query", "count_features", "iter_features", "export_geojson",
           "export_geojson_bytes", "export_gpkg", "gpkg_bytes", "FORMATS", "format_of", "export_file",
           "export_file_bytes", "export_heatmaps", "tile_osm_features", "project_bounds"]

# buildings: rejected (not a building) and deleted are left out
DEFAULT_STATUSES = (FootprintStatus.PENDING.value, FootprintStatus.ACCEPTED.value)
CHUNK = 1000


def export_query(
    project_id: int,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> Select:
    """The rows to export (id, geometry, then the other ``PROPERTIES`` in order), in footprint id order."""
    statuses = DEFAULT_STATUSES if status is None else ([status] if isinstance(status, str) else list(status))
    query = (
        select(
            Footprint.id,
            Footprint.geometry,
            Footprint.tile_id,
            Scene.name,
            Footprint.status,
            Footprint.source,
            Footprint.score,
            ModelVersion.name,
            Footprint.model_version_id,
            Footprint.reviewer,
            Footprint.reviewed_at,
            Footprint.fused_flag,
        )
        .join(Tile, Footprint.tile_id == Tile.id)
        .join(Scene, Tile.scene_id == Scene.id)
        .outerjoin(ModelVersion, Footprint.model_version_id == ModelVersion.id)
        .where(Scene.project_id == project_id, Footprint.status.in_(statuses))
    )
    if tile_id is not None:
        query = query.where(Footprint.tile_id == tile_id)
    if scene_id is not None:
        query = query.where(Scene.id == scene_id)
    return query.order_by(Footprint.id)


def count_features(session: Session, project_id: int, **filters: Any) -> int:
    """How many footprints an export with these filters writes (one COUNT query)."""
    return int(session.scalar(select(func.count()).select_from(export_query(project_id, **filters).subquery())))


def iter_features(session: Session, project_id: int, **filters: Any) -> Iterator[Feature]:
    """(properties, RFC 7946 geometry text) per footprint, fetched ``CHUNK`` rows at a time."""
    result = session.execute(export_query(project_id, **filters).execution_options(yield_per=CHUNK))
    for row in result:
        yield row_feature(row)


def export_geojson(
    session: Session,
    project_id: int,
    out: str | Path | IO[str],
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
    overwrite: bool = False,
) -> int:
    """Stream a project's footprints (filtered) to a GeoJSON file (written whole or not at all; an existing file
    only with ``overwrite``) or text handle; returns the feature count."""
    return write_geojson(
        iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id), out, overwrite
    )


def export_geojson_bytes(
    session: Session,
    project_id: int,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
) -> bytes:
    """The GeoJSON export as UTF-8 bytes, e.g. for ``st.download_button``."""
    buffer = io.StringIO()
    export_geojson(session, project_id, buffer, status=status, tile_id=tile_id, scene_id=scene_id)
    return buffer.getvalue().encode("utf-8")


def export_gpkg(
    session: Session,
    project_id: int,
    out: str | Path,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
    layer: str = "footprints",
    overwrite: bool = False,
) -> int:
    """Write a GeoPackage layer (in chunks, see ``geo.export.write_gpkg``); returns the feature count."""
    features = iter_features(session, project_id, status=status, tile_id=tile_id, scene_id=scene_id)
    return write_gpkg(features, out, layer, overwrite)


def gpkg_bytes(session: Session, project_id: int, tmp_dir: str | Path, **filters: Any) -> bytes:
    """The GeoPackage export as bytes (written through a file in ``tmp_dir``), for a download button."""
    path = Path(tmp_dir) / "export.gpkg"
    export_gpkg(session, project_id, path, **filters)
    return path.read_bytes()


FORMATS = ("geojson", "gpkg", "parquet", "fgb", "osm")
SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".parquet": "parquet",
            ".geoparquet": "parquet", ".fgb": "fgb", ".osm": "osm"}


def format_of(out: str | Path, fmt: str | None = None) -> str:
    """The export format: ``fmt`` when given, else from the file suffix (GeoJSON when unknown)."""
    if fmt:
        if fmt not in FORMATS:
            raise UserError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    return SUFFIXES.get(Path(out).suffix.lower(), "geojson")


def project_bounds(session: Session, project_id: int, scene_id: int | None = None
                   ) -> tuple[float, float, float, float] | None:
    """The lon/lat bounds of the project's (or one scene's) tiles, or None without tiles."""
    query = (select(func.min(Tile.min_lon), func.min(Tile.min_lat), func.max(Tile.max_lon), func.max(Tile.max_lat))
             .join(Scene, Tile.scene_id == Scene.id).where(Scene.project_id == project_id))
    if scene_id is not None:
        query = query.where(Scene.id == scene_id)
    row = session.execute(query).one()
    return None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def export_file(
    session: Session,
    project_id: int,
    out: str | Path,
    fmt: str | None = None,
    status: str | Sequence[str] | None = None,
    tile_id: int | None = None,
    scene_id: int | None = None,
    overwrite: bool = False,
    tags: dict[str, str] | None = None,
    conflate: Conflation | None = None,
) -> dict[str, Any]:
    """Write the project's footprints (filtered) in any of ``FORMATS``; ``tags`` are the OSM tags beside
    ``building=yes``; ``conflate`` leaves out or marks footprints already mapped in OpenStreetMap. Returns
    {"format", "features", "conflation"?: {"new", "overlapping", "replacing"}}."""
    fmt = format_of(out, fmt)
    if tags and fmt != "osm":
        raise UserError("--tag applies to --format osm only; drop it or export as osm")
    features: Iterable[Feature] = iter_features(session, project_id, status=status, tile_id=tile_id,
                                                scene_id=scene_id)
    if conflate is not None:
        features = conflate.filter(features)
    if fmt == "osm":
        count = write_osm(features, out, tags, overwrite)
    elif fmt == "gpkg":
        count = write_gpkg(features, out, overwrite=overwrite)
    elif fmt == "parquet":
        count = write_parquet(features, out, overwrite)
    elif fmt == "fgb":
        count = write_fgb(features, out, overwrite=overwrite)
    else:
        count = write_geojson(features, out, overwrite)
    result: dict[str, Any] = {"format": fmt, "features": count}
    if conflate is not None:
        result["conflation"] = {**conflate.counts, "mode": conflate.mode, "threshold": conflate.threshold}
    return result


def export_file_bytes(session: Session, project_id: int, fmt: str, tmp_dir: str | Path,
                      **options: Any) -> tuple[bytes, dict[str, Any]]:
    """An export (see ``export_file``) as bytes, written through a file in ``tmp_dir``, for a download button."""
    path = Path(tmp_dir) / f"export.{fmt}"
    result = export_file(session, project_id, path, fmt, overwrite=True, **options)
    return path.read_bytes(), result


def export_heatmaps(session: Session, project_id: int, out: str | Path, scene_id: int | None = None,
                    overwrite: bool = False) -> list[dict[str, Any]]:
    """The per-tile heatmaps (band 1, building probability) of each scene mosaicked into one tiled, overviewed
    Cloud-Optimised GeoTIFF per scene: ``out`` itself for a single scene, else ``<stem>_scene<id>.tif`` beside
    it. Tiles without a heatmap are nodata (-1). Returns one {"scene_id", "scene", "path", "tiles"} per file."""
    scenes = list(session.scalars(select(Scene).where(Scene.project_id == project_id,
                                                      *([Scene.id == scene_id] if scene_id is not None else []))
                                  .order_by(Scene.id)))
    if not scenes:
        raise UserError("no scene to export heatmaps of; check --project and --scene")
    out = Path(out)
    written = []
    for scene in scenes:
        tiles = list(session.execute(select(Tile.col_off, Tile.row_off, Tile.heatmap_path).where(
            Tile.scene_id == scene.id, Tile.heatmap_path.is_not(None)).order_by(Tile.id)))
        if not tiles and len(scenes) > 1:
            continue
        if not tiles:
            raise UserError(f"scene '{scene.name}' has no predicted tiles yet; run 'footprints predict' first")
        path = out if len(scenes) == 1 else out.with_name(f"{out.stem}_scene{scene.id}{out.suffix or '.tif'}")
        stats = write_mosaic_cog(path, scene.width, scene.height, scene.crs, as_affine(scene.transform),
                                 _heatmap_windows(tiles), overwrite=overwrite)
        written.append({"scene_id": scene.id, "scene": scene.name, "path": str(path), "tiles": stats["windows"]})
    if not written:
        raise UserError("no scene has predicted tiles yet; run 'footprints predict' first")
    return written


def _heatmap_windows(tiles: Iterable[Any]) -> Iterator[tuple[int, int, Any]]:
    import rasterio

    for col_off, row_off, path in tiles:
        if not Path(path).is_file():
            continue  # a heatmap removed from disk: its pixels stay nodata
        with rasterio.open(path) as src:
            yield col_off, row_off, src.read(1)


def tile_osm_features(session: Session, tile_id: int, extract: str | Path) -> list[dict[str, Any]]:
    """GeoJSON features (lon/lat) of the buildings of an OpenStreetMap extract (or GeoJSON) on one tile, e.g.
    for a map layer beside the footprints; property ``osm`` is each building's OSM reference."""
    tile = session.get(Tile, tile_id)
    if tile is None:
        raise UserError(f"tile {tile_id} does not exist; pick a tile of the project")
    return buildings_geojson(extract, (tile.min_lon, tile.min_lat, tile.max_lon, tile.max_lat))
