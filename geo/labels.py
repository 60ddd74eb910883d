"""Read building labels: check them, repair what can be repaired, reject the rest with a reason per feature,
split MultiPolygons into parts and reproject everything to the scene CRS.

Labels come as GeoJSON (read here, with RFC 7946 and legacy "crs" rules), as any other vector file OGR reads
(GeoPackage, Shapefile, FlatGeobuf; CRS from the file, WKT-only included) optionally filtered by an SQL ``where``,
or as a raster mask (non-zero = building) polygonised into one polygon per connected region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from errors import UserError, first_line
from geo import limits
from geo.vector import polygon_parts, reproject

POLYGON_TYPES = ("Polygon", "MultiPolygon")
GEOJSON_DEFAULT_CRS = "OGC:CRS84"  # RFC 7946: lon/lat on WGS 84


@dataclass
class LabelPolygon:
    """One building polygon in the scene CRS, with the id of the feature (and part) it came from."""

    geometry: BaseGeometry
    ref: str


@dataclass
class LabelSet:
    path: str
    source_crs: str
    feature_count: int
    polygons: list[LabelPolygon] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"feature", "reason"}
    repaired: list[dict[str, str]] = field(default_factory=list)
    registration: Any = None  # the geo.registration.Registration done when the labels were registered to a scene


def load_geojson(path: str | Path) -> dict[str, Any]:
    """The parsed GeoJSON object; UserError when the file is missing or not JSON."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"labels '{path}' do not exist; check the --labels path")
    limits.check_label_file_size(str(path), path.stat().st_size)
    try:
        raw = path.read_bytes()
        limits.check_json_depth(f"labels '{path}'", raw)
        data = json.loads(raw.decode("utf-8"))
    except RecursionError as exc:
        raise UserError(f"labels '{path}' are nested too deeply to read; give a GeoJSON FeatureCollection") from exc
    except UnicodeDecodeError as exc:
        raise UserError(
            f"labels '{path}' are not text (binary file?); give a GeoJSON FeatureCollection"
        ) from exc
    except json.JSONDecodeError as exc:
        raise UserError(
            f"labels '{path}' are not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "give a GeoJSON FeatureCollection"
        ) from exc
    return data


def features_of(data: Any, path: str | Path) -> list[dict[str, Any]]:
    """The features of a FeatureCollection, a single Feature or a bare geometry."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection" and isinstance(data.get("features"), list):
        limits.check_feature_count(str(path), len(data["features"]))
        return data["features"]
    if kind == "Feature":
        return [data]
    if kind in POLYGON_TYPES:
        return [{"type": "Feature", "properties": {}, "geometry": data}]
    raise UserError(
        f"labels '{path}' are JSON but not GeoJSON (top-level type {kind!r}); "
        "give a FeatureCollection of building polygons"
    )


def labels_crs(
    data: dict[str, Any], features: list[dict[str, Any]], path: str | Path, override: str | None = None
) -> str:
    """The CRS the label coordinates are in: ``override``, the legacy "crs" member, or RFC 7946 lon/lat."""
    name = override or ((data.get("crs") or {}).get("properties") or {}).get("name")
    if name:
        try:
            crs = CRS.from_user_input(name)
        except Exception as exc:
            raise UserError(f"labels '{path}' name an unknown CRS '{name}'; use e.g. EPSG:32616") from exc
        return f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.to_wkt()
    if not _looks_like_lonlat(features):
        raise UserError(
            f"labels '{path}' have no \"crs\" member and their coordinates are not lon/lat; "
            "add a crs member or pass --labels-crs EPSG:<code>"
        )
    return GEOJSON_DEFAULT_CRS


def _looks_like_lonlat(features: list[dict[str, Any]]) -> bool:
    for feature in features[:200]:
        try:
            bounds = shape(feature["geometry"]).bounds
        except Exception:
            continue
        if not limits.all_finite(bounds):
            continue  # rejected later, with its own reason
        if bounds and not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
            return False
    return True


def feature_ref(feature: dict[str, Any], index: int) -> str:
    """A stable id for a feature: its "id", else its position in the file."""
    fid = feature.get("id") if isinstance(feature, dict) else None
    return str(fid) if fid is not None else str(index)


def feature_polygons(feature: Any) -> tuple[list[BaseGeometry], str | None, str | None]:
    """(polygons, rejection reason, repair note) for one feature; polygons are valid and non-empty."""
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not geometry:
        return [], "feature has no geometry", None
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in POLYGON_TYPES:
        return [], f"geometry type {kind} is not a polygon", None
    try:
        geom = shape(geometry)
    except Exception as exc:
        return [], f"malformed coordinates ({type(exc).__name__}: {first_line(exc)})", None
    if not limits.all_finite(shapely.get_coordinates(geom).ravel()):
        return [], "coordinates are not finite numbers (NaN or infinity)", None
    note = None
    try:
        if not geom.is_valid:
            note = f"repaired: {explain_validity(geom)}"
            geom = shapely.make_valid(geom)
    except shapely.errors.GEOSException as exc:
        return [], f"geometry cannot be repaired ({first_line(exc)})", None
    parts = [p for p in polygon_parts(geom) if p.area > 0]
    if not parts:
        return [], "polygon has no area" + (f" ({note})" if note else ""), None
    return parts, None, note


GEOJSON_SUFFIXES = (".geojson", ".json")


def read_labels(path: str | Path, scene_crs: str, crs_override: str | None = None,
                where: str | None = None) -> LabelSet:
    """All building polygons of a label file in ``scene_crs``; bad features land in ``rejected`` with a reason.

    ``where``: an OGR SQL filter on the attributes (e.g. ``Niveau_2 = 'Building'``). An OpenStreetMap extract
    (``.osm`` / ``.osm.pbf``) gives its buildings (``geo.osm``), to bootstrap a project from mapped buildings."""
    from geo.osm import is_osm_file, label_features

    if is_osm_file(path) and where is None:
        return _collect(path, label_features(path), "EPSG:4326", scene_crs)
    if where is None and Path(path).suffix.lower() in GEOJSON_SUFFIXES:
        data = load_geojson(path)
        features = features_of(data, path)
        source_crs = labels_crs(data, features, path, crs_override)
    else:
        features, source_crs = read_vector_features(path, where, crs_override)
    return _collect(path, features, source_crs, scene_crs)


def read_vector_features(path: str | Path, where: str | None = None,
                         crs_override: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """(GeoJSON-like features, CRS text) of the first layer of a vector file, filtered by ``where``."""
    import pyogrio

    path = Path(path)
    if not path.is_file():
        raise UserError(f"labels '{path}' do not exist; check the --labels path")
    limits.check_label_file_size(str(path), path.stat().st_size)
    try:
        frame = pyogrio.read_dataframe(path, where=where)
    except pyogrio.errors.FieldError as exc:
        raise UserError(f"--labels-where {where!r} cannot be applied to '{path}' ({first_line(exc)}); "
                        "name a column of the file") from exc
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError) as exc:
        if where:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid filter"
            reason = message.split(where, 1)[-1].lstrip(": ")[:200]  # GDAL's reason follows the SQL it echoes
            raise UserError(f"--labels-where {where!r} cannot be applied to '{path}' ({reason}); "
                            "name a column of the file, e.g. \"Niveau_2 = 'Building'\"") from exc
        raise UserError(f"labels '{path}' cannot be read ({first_line(exc)}); "
                        "give a GeoJSON or GeoPackage of polygons") from exc
    if crs_override:
        crs_text = crs_override
    elif frame.crs is not None:
        crs_text = f"EPSG:{frame.crs.to_epsg()}" if frame.crs.to_epsg() else frame.crs.to_wkt()
    else:
        raise UserError(f"labels '{path}' have no coordinate reference system; pass --labels-crs EPSG:<code>")
    features = [{"type": "Feature", "id": str(index), "properties": {},
                 "geometry": None if geom is None else geom.__geo_interface__}
                for index, geom in zip(frame.index, frame.geometry)]
    return features, crs_text



def read_label_mask(path: str | Path, scene_crs: str) -> LabelSet:
    """Building polygons from a raster mask (non-zero = building): one polygon per connected region."""
    import rasterio
    from rasterio import features as rio_features

    path = Path(path)
    if not path.is_file():
        raise UserError(f"label mask '{path}' does not exist; check the --label-mask path")
    try:
        with rasterio.open(path) as src:
            limits.check_scene_pixels(f"label mask {path.name}", src.width, src.height)
            mask = src.read(1) != 0
            if src.crs is None:
                raise UserError(f"label mask '{path}' has no coordinate reference system; give a georeferenced mask")
            crs_text, transform = src.crs.to_wkt(), src.transform
    except rasterio.errors.RasterioIOError as exc:
        raise UserError(f"label mask '{path}' is not a readable raster; give a GeoTIFF mask") from exc
    shapes = rio_features.shapes(mask.astype("uint8"), mask=mask, transform=transform, connectivity=4)
    features = [{"type": "Feature", "id": str(i), "properties": {}, "geometry": geom}  # shapes yields GeoJSON
                for i, (geom, _) in enumerate(shapes)]
    return _collect(path, features, crs_text, scene_crs)


def _collect(path: str | Path, features: list[dict[str, Any]], source_crs: str, scene_crs: str) -> LabelSet:
    """Validate, repair and reproject features into a LabelSet."""
    limits.check_feature_count(str(path), len(features))
    result = LabelSet(path=str(path), source_crs=source_crs, feature_count=len(features))
    for index, feature in enumerate(features):
        ref = feature_ref(feature, index)
        parts, reason, note = feature_polygons(feature)
        if reason:
            result.rejected.append({"feature": ref, "reason": reason})
            continue
        if note:
            result.repaired.append({"feature": ref, "reason": note})
        for k, part in enumerate(parts):
            part_ref = ref if len(parts) == 1 else f"{ref}#{k}"
            result.polygons.append(LabelPolygon(_to_scene(part, source_crs, scene_crs), part_ref))
    return result


def _to_scene(geom: BaseGeometry, source_crs: str, scene_crs: str) -> BaseGeometry:
    moved = reproject(geom, source_crs, scene_crs)
    if moved.is_valid:
        return moved
    return max(polygon_parts(shapely.make_valid(moved)), key=lambda p: p.area, default=moved)
