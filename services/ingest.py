"""Ingest scenes (and their labels) into a project.

Two phases: first everything is read and checked without touching the database (scene metadata, per-window nodata
scan, labels repaired, reprojected and assigned to tiles); then one transaction writes the scene, tile and label
rows. Any bad input therefore fails before a single row is written. Re-ingesting a scene adds only what is missing.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from shapely.geometry import box
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from errors import UserError
from db.queries import get_or_create_project
from services.authz import SYSTEM, Actor, require_admin
from db.enums import FootprintSource, FootprintStatus, TileState
from db.schema import Footprint, Scene, Tile
from db.session import transaction
from geo.cog import is_url, url_name
from geo.labels import LabelPolygon, LabelSet
from geo.limits import check_tile_count
from geo.sources import LabelSource
from geo.raster import (
    SceneInfo,
    gdal_env,
    inspect_scene,
    open_raster,
    tile_windows,
    valid_mask,
    window_transform,
)
from geo.vector import lonlat_records
from services.progress import Progress

INSERT_CHUNK = 5000
MAX_REASONS_SHOWN = 5


@dataclass
class TilePlan:
    col_off: int
    row_off: int
    width: int
    height: int
    nodata_fraction: float
    bounds: tuple[float, float, float, float]
    lonlat: tuple[float, float, float, float]


@dataclass
class ScenePlan:
    info: SceneInfo
    tiles: list[TilePlan]
    skipped_windows: set[tuple[int, int]]
    labels: list[tuple[LabelPolygon, tuple[int, int]]] = field(default_factory=list)
    labels_outside: int = 0
    labels_in_nodata: int = 0
    labels_name: str | None = None
    layout: set[tuple[int, int, int, int]] = field(default_factory=set)  # every window (col, row, w, h)


# ---------------------------------------------------------------- phase 1: read and check, no database


def scan_tiles(
    info: SceneInfo, tile_size: int, overlap: int, progress: Progress | None = None
) -> tuple[list[TilePlan], set[tuple[int, int]]]:
    """Tile plans for every window with valid pixels, and the (col, row) offsets of all-nodata windows."""
    windows = tile_windows(info.width, info.height, tile_size, overlap)
    plans, skipped = [], set()
    with gdal_env(), open_raster(info.path) as src:
        check_pixels = _needs_pixel_scan(src, info.nodata)
        for i, (col, row, w, h) in enumerate(windows):
            valid_fraction = _valid_fraction(src, Window(col, row, w, h), info) if check_pixels else 1.0
            if valid_fraction == 0.0:
                skipped.add((col, row))
            else:
                plans.append(_tile_plan(info, col, row, w, h, 1.0 - valid_fraction))
            if progress and (i % 16 == 0 or i == len(windows) - 1):
                progress(
                    (i + 1) / len(windows),
                    f"scanned {i + 1}/{len(windows)} windows of {Path(info.path).name}",
                )
    return plans, skipped


def _needs_pixel_scan(src: Any, nodata: float | None) -> bool:
    """False for integer rasters without nodata or masks: every pixel is valid, no need to read them."""
    all_valid = all(flags == [MaskFlags.all_valid] for flags in src.mask_flag_enums)
    return not (nodata is None and all_valid and np.issubdtype(np.dtype(src.dtypes[0]), np.integer))


def _valid_fraction(src: Any, window: Window, info: SceneInfo) -> float:
    try:
        data = src.read(window=window)
    except RasterioIOError as exc:
        raise UserError(
            f"scene '{info.path}' cannot be read at window {window.col_off},{window.row_off} "
            f"({str(exc).splitlines()[0]}); is the file truncated?"
        ) from exc
    return float(valid_mask(src, data, window, info.nodata).mean())


def _tile_plan(info: SceneInfo, col: int, row: int, w: int, h: int, nodata_fraction: float) -> TilePlan:
    t = window_transform(info.transform, col, row)
    xs, ys = [t.c, t.c + t.a * w], [t.f, t.f + t.e * h]
    bounds = (min(xs), min(ys), max(xs), max(ys))
    lonlat = transform_bounds(info.crs, "EPSG:4326", *bounds, densify_pts=21)
    return TilePlan(col, row, w, h, nodata_fraction, bounds, tuple(float(v) for v in lonlat))


def assign_labels(plan: ScenePlan, labels: LabelSet, tile_size: int, overlap: int) -> None:
    """Give each label polygon the tile holding its representative point (outside / nodata ones are counted)."""
    info = plan.info
    inverse = ~window_transform(info.transform, 0, 0)
    windows = tile_windows(info.width, info.height, tile_size, overlap)
    col_offsets = sorted({w[0] for w in windows})
    row_offsets = sorted({w[1] for w in windows})
    for label in labels.polygons:
        point = label.geometry.representative_point()
        col, row = inverse @ (point.x, point.y)
        if not (0 <= col < info.width and 0 <= row < info.height):
            plan.labels_outside += 1
            continue
        key = (
            col_offsets[bisect_right(col_offsets, col) - 1],
            row_offsets[bisect_right(row_offsets, row) - 1],
        )
        if key in plan.skipped_windows:
            plan.labels_in_nodata += 1
        else:
            plan.labels.append((label, key))


def scene_box(info: SceneInfo):
    """The scene's footprint in its own CRS."""
    t = window_transform(info.transform, 0, 0)
    corners = [t @ (0, 0), t @ (info.width, 0), t @ (info.width, info.height), t @ (0, info.height)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return box(min(xs), min(ys), max(xs), max(ys))


def check_labels(labels: LabelSet, skip_invalid: bool) -> None:
    """UserError when features had to be rejected, unless the user asked to skip them."""
    if not labels.rejected or skip_invalid:
        return
    shown = "; ".join(f"feature {r['feature']}: {r['reason']}" for r in labels.rejected[:MAX_REASONS_SHOWN])
    more = len(labels.rejected) - MAX_REASONS_SHOWN
    raise UserError(
        f"labels '{labels.path}': {len(labels.rejected)} of {labels.feature_count} features cannot be "
        f"used ({shown}{f'; and {more} more' if more > 0 else ''}); fix them or pass --skip-invalid "
        "to ingest the rest"
    )


def check_labels_overlap(plans: list[ScenePlan], labels: LabelSet) -> None:
    """UserError when not one label polygon touches any of the scenes (wrong file or wrong CRS)."""
    if not labels.polygons or any(p.labels_outside < len(labels.polygons) for p in plans):
        return
    extent = shapely.total_bounds([lp.geometry for lp in labels.polygons])
    scenes = "; ".join(
        f"{Path(p.info.path).name} {tuple(round(v, 1) for v in scene_box(p.info).bounds)}" for p in plans
    )
    raise UserError(
        f"all {len(labels.polygons)} label polygons of '{labels.path}' lie outside the scene "
        f"(labels extent {tuple(round(v, 1) for v in extent)} in the scene CRS; scene {scenes}); "
        "check that the labels belong to this scene and name their CRS"
    )


def pair_labels(scenes: Sequence[str | Path], labels: Sequence[str | Path] | None) -> list[str | Path | None]:
    """One labels path per scene: none, the same file for all, or one per scene in order."""
    if not labels:
        return [None] * len(scenes)
    if len(labels) == 1:
        return [labels[0]] * len(scenes)
    if len(labels) == len(scenes):
        return list(labels)
    raise UserError(
        f"got {len(labels)} --labels for {len(scenes)} scenes; give one labels file for all scenes "
        "or exactly one per scene, in the same order"
    )


def plan_ingest(
    scenes: Sequence[str | Path],
    labels: Sequence[str | Path] | None,
    tile_size: int,
    overlap: int,
    crs: str | None = None,
    labels_crs: str | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> tuple[list[ScenePlan], dict[str, Any]]:
    """Read and check every input; returns scene plans and label statistics. Writes nothing."""
    if not scenes:
        raise UserError("no scene given; pass one or more GeoTIFF paths")
    tile_windows(1, 1, tile_size, overlap)  # validates tile size and overlap
    infos = [inspect_scene(path, crs) for path in scenes]
    for info in infos:
        if len(info.path) > Scene.path.type.length:
            raise UserError(f"scene path '{info.path[:80]}...' is longer than {Scene.path.type.length} "
                            "characters; move the file to a shorter path")
        name = url_name(info.path) if is_url(info.path) else Path(info.path).stem
        if len(name) > Scene.name.type.length:
            raise UserError(f"scene name '{name[:80]}...' is longer than {Scene.name.type.length} characters; "
                            "rename the file")
    check_tile_count(sum(len(tile_windows(i.width, i.height, tile_size, overlap)) for i in infos))
    label_sets = _read_label_sets(infos, pair_labels(scenes, labels), labels_crs, skip_invalid)
    plans = []
    for k, info in enumerate(infos):
        sub = (lambda f, m, k=k: progress((k + f) / len(infos), m)) if progress else None
        tiles, skipped = scan_tiles(info, tile_size, overlap, sub)
        layout = set(tile_windows(info.width, info.height, tile_size, overlap))
        plans.append(ScenePlan(info, tiles, skipped, layout=layout))
    stats: dict[str, Any] = {"rejected": [], "repaired": 0, "label_shifts": []}
    groups: dict[str, list[tuple[ScenePlan, LabelSet]]] = {}
    for plan, label_set in zip(plans, label_sets):
        if label_set is None:
            continue
        if label_set.registration is not None:
            done = label_set.registration
            stats["label_shifts"].append({"scene": plan.info.path, "east_m": done.scene.east_m,
                                          "north_m": done.scene.north_m, "gain": round(done.scene.gain, 3),
                                          "moved": done.applied, "labels_moved": done.labels_moved,
                                          "windows_moved": done.windows_moved, "why": done.describe()})
        plan.labels_name = Path(label_set.path).name
        assign_labels(plan, label_set, tile_size, overlap)
        groups.setdefault(label_set.path, []).append((plan, label_set))
    for group in groups.values():
        first = group[0][1]
        stats["rejected"] += first.rejected
        stats["repaired"] += len(first.repaired)
        check_labels_overlap([plan for plan, _ in group], first)
    return plans, stats


def _read_label_sets(
    infos: list[SceneInfo], paths: list[str | Path | LabelSource | None], labels_crs: str | None,
    skip_invalid: bool,
) -> list[LabelSet | None]:
    """Each scene's labels in its CRS (checked before any pixel is scanned, so bad labels fail fast)."""
    sets: list[LabelSet | None] = []
    for info, path in zip(infos, paths):
        source = path if isinstance(path, LabelSource) or path is None else LabelSource(str(path))
        label_set = None if source is None else source.read(info.crs, labels_crs)
        if label_set is not None:
            check_labels(label_set, skip_invalid)
            if source.align:
                label_set = registered(info, label_set)
        sets.append(label_set)
    return sets


def registered(info: SceneInfo, label_set: LabelSet) -> LabelSet:
    """``label_set`` moved onto the scene's roofs when its outlines sit measurably off them (geo/registration.py)."""
    from geo.registration import register

    geometries, registration = register(info.path, [p.geometry for p in label_set.polygons], info=info)
    polygons = [replace(p, geometry=g) for p, g in zip(label_set.polygons, geometries)]
    return replace(label_set, polygons=polygons, registration=registration)


# ---------------------------------------------------------------- phase 2: one transaction


def write_scene(session: Session, project_id: int, plan: ScenePlan) -> dict[str, int]:
    """Insert what is missing of one planned scene: the scene row, its tiles and its labels."""
    scene = _scene_row(session, project_id, plan.info)
    existing = {
        (t.col_off, t.row_off): t for t in session.scalars(select(Tile).where(Tile.scene_id == scene.id))
    }
    if not {(t.col_off, t.row_off, t.width, t.height) for t in existing.values()} <= plan.layout:
        raise UserError(
            f"scene '{plan.info.path}' was ingested before with another tile size or overlap; "
            "ingest it again with the same --tile-size and --overlap, or into another --project"
        )
    new_tiles = [_tile_row(scene.id, t) for t in plan.tiles if (t.col_off, t.row_off) not in existing]
    session.add_all(new_tiles)
    session.flush()
    tiles = existing | {(t.col_off, t.row_off): t for t in new_tiles}
    labels_added, labels_existing = _write_labels(session, scene.id, plan, tiles)
    return {
        "tiles": len(new_tiles),
        "tiles_existing": len(existing),
        "labels": labels_added,
        "labels_existing": labels_existing,
    }


def _scene_row(session: Session, project_id: int, info: SceneInfo) -> Scene:
    scene = session.scalar(select(Scene).where(Scene.project_id == project_id, Scene.path == info.path))
    if scene is not None:
        if (scene.width, scene.height, scene.band_count) != (info.width, info.height, info.band_count):
            raise UserError(
                f"scene '{info.path}' changed since it was ingested ({scene.width}x{scene.height}x"
                f"{scene.band_count} then, {info.width}x{info.height}x{info.band_count} now); "
                "ingest it into a new --project"
            )
        return scene
    scene = Scene(
        project_id=project_id,
        path=info.path,
        name=url_name(info.path) if is_url(info.path) else Path(info.path).stem,  # a COG URL stays the path
        crs=info.crs,
        transform=list(info.transform),
        width=info.width,
        height=info.height,
        band_count=info.band_count,
        dtype=info.dtype,
        nodata=info.nodata,
        band_stats=info.band_stats,
        pixel_size_m=info.pixel_size_m,
    )
    session.add(scene)
    session.flush()
    return scene


def _tile_row(scene_id: int, t: TilePlan) -> Tile:
    minx, miny, maxx, maxy = t.bounds
    min_lon, min_lat, max_lon, max_lat = t.lonlat
    return Tile(
        scene_id=scene_id,
        col_off=t.col_off,
        row_off=t.row_off,
        width=t.width,
        height=t.height,
        minx=minx,
        miny=miny,
        maxx=maxx,
        maxy=maxy,
        min_lon=min_lon,
        min_lat=min_lat,
        max_lon=max_lon,
        max_lat=max_lat,
        nodata_fraction=t.nodata_fraction,
        review_state=TileState.UNREVIEWED.value,
    )


def _write_labels(
    session: Session, scene_id: int, plan: ScenePlan, tiles: dict[tuple[int, int], Tile]
) -> tuple[int, int]:
    """Insert label footprints (source label, status accepted) not stored yet; returns (added, already there)."""
    if not plan.labels:
        return 0, 0
    tile_ids = [t.id for t in tiles.values()]
    known = set(
        session.execute(
            select(Footprint.tile_id, Footprint.label_ref).where(
                Footprint.tile_id.in_(tile_ids), Footprint.source == FootprintSource.LABEL
            )
        ).all()
    )
    rows, geoms, existing = [], [], 0
    for label, key in plan.labels:
        tile_id, ref = tiles[key].id, f"{plan.labels_name}:{label.ref}"[:200]
        if (tile_id, ref) in known:
            existing += 1
            continue
        known.add((tile_id, ref))
        geoms.append(label.geometry)
        rows.append(
            {
                "tile_id": tile_id,
                "label_ref": ref,
                "source": FootprintSource.LABEL.value,
                "status": FootprintStatus.ACCEPTED.value,
                "score": None,
                "fused_flag": False,
                "version": 1,
            }
        )
    for row, record in zip(rows, lonlat_records(geoms, plan.info.crs)):
        row.update(record)
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(Footprint), rows[start : start + INSERT_CHUNK])
    return len(rows), existing


def ingest(
    scenes: Sequence[str | Path],
    labels: Sequence[str | Path] | str | Path | None = None,
    project: str = "default",
    tile_size: int = 512,
    overlap: int = 0,
    crs: str | None = None,
    labels_crs: str | None = None,
    skip_invalid: bool = False,
    url: str | None = None,
    progress: Progress | None = None,
    *,
    actor: Actor | None = SYSTEM,
) -> dict[str, Any]:
    """Ingest scenes (optionally with labels) into ``project`` in one transaction; returns a summary.
    Administrators only (``actor``; the command line acts as the local operator)."""
    require_admin(actor, "add scenes")
    if isinstance(labels, (str, Path)):
        labels = [labels]
    plans, label_stats = plan_ingest(
        scenes, labels, tile_size, overlap, crs, labels_crs, skip_invalid, progress
    )
    totals = {"tiles": 0, "tiles_existing": 0, "labels": 0, "labels_existing": 0}
    with transaction(url) as session:
        project_row = get_or_create_project(session, project)
        scene_ids = []
        for plan in plans:
            for key, value in write_scene(session, project_row.id, plan).items():
                totals[key] += value
            scene_ids.append(
                session.scalar(
                    select(Scene.id).where(Scene.project_id == project_row.id, Scene.path == plan.info.path)
                )
            )
        project_id = project_row.id
    if progress:
        progress(1.0, "ingest done")
    return _summary(project, project_id, scene_ids, plans, totals, label_stats)


def _summary(
    project: str,
    project_id: int,
    scene_ids: list[int],
    plans: list[ScenePlan],
    totals: dict[str, int],
    label_stats: dict[str, Any],
) -> dict[str, Any]:
    skipped = {
        "nodata_tiles": sum(len(p.skipped_windows) for p in plans),
        "existing_tiles": totals["tiles_existing"],
        "existing_labels": totals["labels_existing"],
        "labels_outside": sum(p.labels_outside for p in plans),
        "labels_in_nodata": sum(p.labels_in_nodata for p in plans),
        "labels_rejected": len(label_stats["rejected"]),
    }
    return {
        "project": project,
        "project_id": project_id,
        "scenes": len(plans),
        "scene_ids": scene_ids,
        "tiles": totals["tiles"],
        "labels": totals["labels"],
        "skipped": skipped,
        "repaired": label_stats["repaired"],
        "rejected": label_stats["rejected"][:50],
        **({"label_shifts": label_stats["label_shifts"]} if label_stats["label_shifts"] else {}),
    }
