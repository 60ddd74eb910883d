"""OpenStreetMap files: write footprints as a JOSM-loadable ``.osm`` file, read buildings from an OSM extract,
and conflate footprints with the buildings already mapped.

The written file is meant for review in JOSM, never for a direct upload: the root carries ``upload="never"``,
every id is negative (new objects), buildings that share a vertex share its node, and a corner lying on a
neighbour's wall is joined into that wall (walls of terraced houses are shared, not drawn twice). A polygon with holes or a multi-part footprint becomes a ``type=multipolygon``
relation; a simple polygon a closed way.

Extracts are read through GDAL's OSM driver (``.osm`` / ``.osm.pbf``: its ``multipolygons`` layer holds both
closed building ways and multipolygon relations) or, for ``.geojson`` / ``.json`` / ``.gpkg``, as plain vector
files. Every geometry here is lon/lat (EPSG:4326).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from errors import UserError, first_line
from geo.atomic import atomic_text
from geo.vector import geometry_from_json, polygon_parts

OSM_SUFFIXES = (".osm", ".pbf")  # .osm.pbf ends in .pbf
GENERATOR = "Footprint Studio"
COORD_DECIMALS = 7  # OSM stores 7 decimals (about 1 cm)
WALL_TOLERANCE_DEG = 1.5e-7  # a vertex this close to another building's wall (about 1.5 cm) is joined into it
CONFLATE_MODES = ("skip", "mark")
DEFAULT_THRESHOLD = 0.3
Feature = tuple[dict[str, Any], str]  # (properties, GeoJSON geometry text in lon/lat)


# ---------------------------------------------------------------- tags


def parse_tags(items: Sequence[str] | None) -> dict[str, str]:
    """``["source=drone survey", "building=house"]`` as a dict; UserError for an item without ``=``."""
    tags: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"tag {item!r} is not key=value; give e.g. --tag source=drone_imagery")
        tags[key.strip()] = value.strip()
    return tags


def building_tags(extra: dict[str, str] | None = None) -> dict[str, str]:
    """``building=yes`` plus the user's tags (which may override ``building``)."""
    return {"building": "yes", **(extra or {})}


# ---------------------------------------------------------------- writer


@dataclass
class OsmDocument:
    """Nodes, ways and relations with negative ids; nodes shared by coordinate (rounded to OSM's 7 decimals)."""

    nodes: dict[tuple[int, int], int] = field(default_factory=dict)  # (lon e7, lat e7) -> id
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    relations: list[tuple[int, list[tuple[str, int]], dict[str, str]]] = field(default_factory=list)
    next_id: int = -1

    def new_id(self) -> int:
        value = self.next_id
        self.next_id -= 1
        return value

    def node(self, lon: float, lat: float) -> int:
        key = (round(lon * 10**COORD_DECIMALS), round(lat * 10**COORD_DECIMALS))
        if key not in self.nodes:
            self.nodes[key] = self.new_id()
        return self.nodes[key]

    def ring(self, coords: Sequence[Sequence[float]], tags: dict[str, str]) -> int:
        """A closed way through the ring's vertices (consecutive duplicates after rounding dropped)."""
        refs: list[int] = []
        for x, y in list(coords)[:-1]:
            ref = self.node(x, y)
            if not refs or refs[-1] != ref:
                refs.append(ref)
        if len(refs) > 1 and refs[0] == refs[-1]:
            refs.pop()
        way_id = self.new_id()
        self.ways.append((way_id, refs + refs[:1], tags))
        return way_id

    def building(self, geom: BaseGeometry, tags: dict[str, str]) -> None:
        """A closed way for a simple polygon, a multipolygon relation for holes or several parts."""
        parts = polygon_parts(geom)
        if not parts:
            return
        if len(parts) == 1 and not parts[0].interiors:
            self.ring(parts[0].exterior.coords, tags)
            return
        members = []
        for part in parts:
            members.append(("outer", self.ring(part.exterior.coords, {})))
            members += [("inner", self.ring(r.coords, {})) for r in part.interiors]
        self.relations.append((self.new_id(), members, {"type": "multipolygon", **tags}))

    def join_walls(self, tolerance: float = WALL_TOLERANCE_DEG) -> int:
        """Insert into each way the nodes of other ways that lie on its segments (a T-junction: a building whose
        corner touches its neighbour's wall), so walls are shared, not drawn twice; returns how many were added.
        One spatial query for all segments against all nodes."""
        if not self.nodes or not self.ways:
            return 0
        scale = 10**COORD_DECIMALS
        ids = np.array(list(self.nodes.values()))
        xy = np.array(list(self.nodes), dtype=float) / scale
        position = {int(node_id): k for k, node_id in enumerate(ids)}
        segments = [(w, j, position[a], position[b]) for w, (_, refs, _) in enumerate(self.ways)
                    for j, (a, b) in enumerate(zip(refs[:-1], refs[1:]))]
        lines = shapely.linestrings(np.stack([[xy[a], xy[b]] for _, _, a, b in segments]))
        seg_index, node_index = STRtree(shapely.points(xy)).query(lines, predicate="dwithin", distance=tolerance)
        inserts: dict[tuple[int, int], list[tuple[float, int]]] = {}
        for s_k, n_k in zip(seg_index.tolist(), node_index.tolist()):
            way, j, a, b = segments[s_k]
            if n_k in (a, b):
                continue
            pa, pb = xy[a], xy[b]
            t = float(np.dot(xy[n_k] - pa, pb - pa) / max(float(np.dot(pb - pa, pb - pa)), 1e-30))
            if 0.0 < t < 1.0:
                inserts.setdefault((way, j), []).append((t, int(ids[n_k])))
        added = 0
        for way in sorted({w for w, _ in inserts}):
            way_id, refs, tags = self.ways[way]
            new_refs = [refs[0]]
            for j, b in enumerate(refs[1:]):
                new_refs += [n for _, n in sorted(inserts.get((way, j), [])) if n not in refs and n not in new_refs]
                new_refs.append(b)
            added += len(new_refs) - len(refs)
            self.ways[way] = (way_id, new_refs, tags)
        return added

    def write(self, handle: IO[str]) -> None:
        handle.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        handle.write(f'<osm version="0.6" generator={quoteattr(GENERATOR)} upload="never">\n')
        scale = 10**COORD_DECIMALS
        for (x, y), node_id in sorted(self.nodes.items(), key=lambda item: -item[1]):
            handle.write(f'  <node id="{node_id}" visible="true" lat="{y / scale:.7f}" lon="{x / scale:.7f}"/>\n')
        for way_id, refs, tags in self.ways:
            handle.write(f'  <way id="{way_id}" visible="true">\n')
            handle.writelines(f'    <nd ref="{ref}"/>\n' for ref in refs)
            _write_tags(handle, tags)
            handle.write("  </way>\n")
        for rel_id, members, tags in self.relations:
            handle.write(f'  <relation id="{rel_id}" visible="true">\n')
            handle.writelines(f'    <member type="way" ref="{ref}" role="{role}"/>\n' for role, ref in members)
            _write_tags(handle, tags)
            handle.write("  </relation>\n")
        handle.write("</osm>\n")


def _write_tags(handle: IO[str], tags: dict[str, str]) -> None:
    for key, value in tags.items():
        handle.write(f"    <tag k={quoteattr(key)} v={quoteattr(str(value))}/>\n")


def osm_document(features: Iterable[Feature], tags: dict[str, str] | None = None) -> OsmDocument:
    """Every footprint as a building; a feature's ``osm_fixme`` property (set by conflation's mark mode) becomes
    a ``fixme`` tag so a mapper sees it in JOSM."""
    doc = OsmDocument()
    base = building_tags(tags)
    for props, geometry in features:
        extra = {"fixme": props["osm_fixme"]} if props.get("osm_fixme") else {}
        doc.building(geometry_from_json(geometry), {**base, **extra})
    doc.join_walls()
    return doc


def write_osm(features: Iterable[Feature], out: str | Path | IO[str], tags: dict[str, str] | None = None,
              overwrite: bool = False) -> int:
    """Write a JOSM ``.osm`` file (``upload="never"``); returns the number of buildings written. A path is
    written to a temporary name and renamed into place (an existing file only with ``overwrite``)."""
    doc = osm_document(features, tags)
    if isinstance(out, (str, Path)):
        with atomic_text(out, overwrite) as handle:
            doc.write(handle)
    else:
        doc.write(out)
    return sum(1 for _, _, t in doc.ways if t) + len(doc.relations)


# ---------------------------------------------------------------- reader


@dataclass
class OsmBuilding:
    """An existing building: its OSM reference (``w123`` / ``r45`` or a feature index) and lon/lat geometry."""

    ref: str
    geometry: BaseGeometry


def is_osm_file(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".osm") or name.endswith(".osm.pbf") or name.endswith(".pbf")


def read_buildings(path: str | Path, bbox: tuple[float, float, float, float] | None = None) -> list[OsmBuilding]:
    """The building polygons of an OSM extract (``.osm``, ``.osm.pbf``) or a vector file (GeoJSON, GeoPackage;
    features with a ``building`` property when any has one, else all polygons), optionally within a lon/lat bbox."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"OSM extract '{path}' does not exist; check the path")
    if is_osm_file(path):
        return _read_osm_extract(path, bbox)
    return _read_vector_buildings(path, bbox)


def _read_osm_extract(path: Path, bbox: tuple[float, float, float, float] | None) -> list[OsmBuilding]:
    import pyogrio

    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})  # negative ids (unsaved JOSM edits)
    try:
        frame = pyogrio.read_dataframe(path, layer="multipolygons", bbox=bbox,
                                       columns=["osm_id", "osm_way_id", "building"])
    except Exception as exc:  # pyogrio raises DataSourceError / DataLayerError / RuntimeError
        raise UserError(f"OSM extract '{path}' cannot be read ({first_line(exc)}); "
                        "give an .osm or .osm.pbf file") from exc
    frame = frame[frame["building"].notna() & (frame["building"] != "no")]
    buildings = []
    for osm_id, way_id, geom in zip(frame["osm_id"], frame["osm_way_id"], frame.geometry):
        if geom is None or geom.is_empty:
            continue
        ref = f"r{osm_id}" if isinstance(osm_id, str) and osm_id else f"w{way_id}"
        buildings.append(OsmBuilding(ref, _valid(geom)))
    return buildings


def _read_vector_buildings(path: Path, bbox: tuple[float, float, float, float] | None) -> list[OsmBuilding]:
    import pyogrio

    try:
        frame = pyogrio.read_dataframe(path, bbox=bbox)
    except Exception as exc:
        raise UserError(f"buildings file '{path}' cannot be read ({first_line(exc)}); "
                        "give an .osm, .osm.pbf or GeoJSON file") from exc
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    if "building" in frame.columns:
        frame = frame[frame["building"].notna() & (frame["building"] != "no")]
    ids = frame["osm_id"] if "osm_id" in frame.columns else frame["id"] if "id" in frame.columns else frame.index
    return [OsmBuilding(str(ref), _valid(geom)) for ref, geom in zip(ids, frame.geometry)
            if geom is not None and geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_empty]


def _valid(geom: BaseGeometry) -> BaseGeometry:
    if geom.is_valid:
        return geom
    parts = polygon_parts(shapely.make_valid(geom))
    return shapely.MultiPolygon(parts) if len(parts) > 1 else (parts[0] if parts else geom)



def buildings_geojson(path: str | Path, bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """GeoJSON features (lon/lat) of the existing buildings of an extract within ``bbox`` (min_lon, min_lat,
    max_lon, max_lat), e.g. for a map layer; property ``osm`` holds the OSM reference."""
    box = shapely.box(*bbox)
    return [{"type": "Feature", "properties": {"osm": b.ref}, "geometry": b.geometry.__geo_interface__}
            for b in read_buildings(path, bbox) if b.geometry.intersects(box)]


def label_features(path: str | Path) -> list[dict[str, Any]]:
    """An extract's buildings as GeoJSON-like features (id = OSM reference) for ingest's labels."""
    return [{"type": "Feature", "id": b.ref, "properties": {}, "geometry": b.geometry.__geo_interface__}
            for b in read_buildings(path)]


# ---------------------------------------------------------------- conflation


@dataclass
class Conflation:
    """Compares footprints with existing buildings. A footprint whose best IoU with a building reaches
    ``threshold`` is *overlapping* (that building is already mapped); one that covers a building (or is covered
    by it) by at least ``threshold`` of the smaller area without that IoU is *replacing* (it redraws an existing
    building differently); the rest are *new*."""

    buildings: list[OsmBuilding]
    threshold: float = DEFAULT_THRESHOLD
    mode: str = "skip"
    counts: dict[str, int] = field(default_factory=lambda: {"new": 0, "overlapping": 0, "replacing": 0})

    def __post_init__(self) -> None:
        if self.mode not in CONFLATE_MODES:
            raise UserError(f"conflate mode {self.mode!r} is unknown; use one of {', '.join(CONFLATE_MODES)}")
        if not 0 < self.threshold <= 1:
            raise UserError(f"conflate threshold {self.threshold} must be above 0 and at most 1, e.g. 0.3")
        self.tree = STRtree([b.geometry for b in self.buildings])

    def match(self, geom: BaseGeometry) -> tuple[str, str | None, float, float]:
        """(class, OSM reference of the best match, its IoU, its overlap share) of one lon/lat footprint."""
        best: tuple[float, float, str | None] = (0.0, 0.0, None)
        area = geom.area
        for index in self.tree.query(geom, predicate="intersects"):
            other = self.buildings[int(index)].geometry
            inter = geom.intersection(other).area
            if inter <= 0:
                continue
            iou = inter / (area + other.area - inter)
            share = inter / max(min(area, other.area), 1e-30)
            if (iou, share) > best[:2]:
                best = (iou, share, self.buildings[int(index)].ref)
        iou, share, ref = best
        kind = "overlapping" if iou >= self.threshold else "replacing" if share >= self.threshold else "new"
        return kind, ref, iou, share

    def filter(self, features: Iterable[Feature]) -> Iterator[Feature]:
        """The footprints to write: new ones, plus (mode ``mark``) the others with ``osm_match`` / ``osm_ref``
        and an ``osm_fixme`` note; counts land in ``self.counts``."""
        for props, geometry in features:
            kind, ref, iou, share = self.match(geometry_from_json(geometry))
            self.counts[kind] += 1
            if kind != "new" and self.mode == "skip":
                continue
            extra = {"osm_match": kind, "osm_ref": ref, "osm_fixme": None}
            if kind != "new":
                extra["osm_fixme"] = (f"{kind} existing OSM building {ref} (IoU {iou:.2f}, overlap {share:.2f}); "
                                      "check before uploading")
            yield {**props, **extra}, geometry


def conflation(path: str | Path | None, mode: str = "skip", threshold: float = DEFAULT_THRESHOLD,
               bbox: tuple[float, float, float, float] | None = None) -> Conflation | None:
    """A ``Conflation`` against the buildings of ``path`` (within the lon/lat ``bbox`` when given, so a large
    extract is not read whole); None when no file is given."""
    if path is None or str(path) == "":
        return None
    return Conflation(read_buildings(path, bbox), threshold=threshold, mode=mode)


__all__ = ["parse_tags", "write_osm", "osm_document", "read_buildings", "buildings_geojson", "label_features",
           "Conflation", "conflation", "is_osm_file", "OSM_SUFFIXES", "CONFLATE_MODES"]
