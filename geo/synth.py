"""Synthetic georeferenced scenes with building labels, deterministic per seed.

A scene is a street grid rotated by a random angle; each block is filled with terraces (row houses sharing walls),
semi-detached pairs, detached houses (rectangles and L-shapes) or large flat-roofed buildings. The image shows
ground texture, roads with sidewalks, cast shadows on the side away from the sun, roofs with colour, gable ridges
and tile texture, and trees that partly cover roofs. Labels (one polygon per building, even where buildings touch)
are written as GeoJSON in the scene's UTM CRS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio import features
from rasterio.transform import Affine
from scipy import ndimage
from shapely import STRtree, affinity
from shapely.geometry import Point, Polygon, box, mapping
from shapely.ops import unary_union

ROOF_COLOURS = np.array(
    [
        [150, 70, 55],
        [170, 95, 70],
        [120, 60, 50],
        [95, 95, 100],
        [70, 72, 78],
        [135, 135, 130],
        [185, 180, 170],
        [210, 205, 195],
        [110, 90, 75],
        [80, 95, 110],
        [160, 150, 120],
        [60, 60, 62],
    ],
    dtype=np.float32,
)
GRASS, DIRT = np.array([88, 112, 62], np.float32), np.array([150, 138, 112], np.float32)
ASPHALT, SIDEWALK = np.array([92, 92, 96], np.float32), np.array([168, 165, 158], np.float32)


@dataclass
class Part:
    """One rectangle of a building (local metres) with its roof: 'gable' ridges run along the long side."""

    rect: Polygon
    roof: str
    ridge_along_row: bool = False  # terraces: one ridge along the row instead of along each house's long side


@dataclass
class Building:
    parts: list[Part]
    kind: str
    height_m: float
    colour: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    outline: Polygon | None = None  # set for multi-part buildings (union taken before rotation: no slivers)

    @property
    def footprint(self) -> Polygon:
        return self.outline if self.outline is not None else self.parts[0].rect


def _rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


# ---------------------------------------------------------------- layout (local metres, streets along the axes)


def _terrace_row(
    rng: np.random.Generator,
    x0: float,
    x1: float,
    y_front: float,
    depth: float,
    sign: int,
    colour: np.ndarray,
) -> list[Building]:
    """Row houses along one street front, sharing side walls; the roof ridge runs along the row."""
    houses, x = [], x0
    roof = "gable" if rng.random() < 0.7 else "flat"
    height = rng.uniform(6, 10)
    jitter = float(
        rng.choice([3.0, 6.0, 12.0])
    )  # some rows look uniform, so walls must be found by other cues
    while x < x1 - 4.0:
        width = min(rng.uniform(4.5, 8.5), x1 - x)
        d = depth - (rng.uniform(0.0, 2.0) if rng.random() < 0.3 else 0.0)
        rect = _rect(x, y_front, x + width, y_front + sign * d)
        tint = colour + rng.normal(0, jitter, 3).astype(np.float32)
        houses.append(Building([Part(rect, roof, True)], "terrace", height, tint))
        x += width
    return houses


def _terrace_block(rng, bx0, by0, bx1, by1) -> list[Building]:
    """Two rows back to back: dense block where every house touches its neighbours."""
    colour = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))]
    setback = rng.uniform(0.5, 3.0)
    depth = min(rng.uniform(8, 12), (by1 - by0) / 2 - setback)
    back_to_back = rng.random() < 0.5
    rows = _terrace_row(rng, bx0 + 1, bx1 - 1, by0 + setback, depth, 1, colour)
    far_front = by0 + setback + depth if back_to_back else by1 - setback
    far_sign = 1 if back_to_back else -1
    if back_to_back:
        depth2 = min(depth, by1 - setback - far_front)
        if depth2 > 4:
            rows += _terrace_row(rng, bx0 + 1, bx1 - 1, far_front, depth2, far_sign, colour)
    else:
        rows += _terrace_row(rng, bx0 + 1, bx1 - 1, far_front, depth, far_sign, colour)
    return rows


def _house(rng, cx: float, cy: float, lot_w: float, lot_d: float) -> Building:
    """A detached house: a rectangle, or an L-shape made of two gabled wings, slightly rotated in its lot."""
    w, d = rng.uniform(0.5, 0.75) * lot_w, rng.uniform(0.4, 0.7) * lot_d
    colour = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))] + rng.normal(0, 6, 3).astype(np.float32)
    roof = "gable" if rng.random() < 0.75 else "flat"
    if rng.random() < 0.35:  # L-shape: main wing plus a side wing, together within the lot
        d, wing_d = d * 0.6, d * rng.uniform(0.3, 0.45)
        wing_w = w * rng.uniform(0.35, 0.5)
        y0 = cy - (d + wing_d) / 2
        wx0 = cx - w / 2 if rng.random() < 0.5 else cx + w / 2 - wing_w
        rects = [_rect(cx - w / 2, y0, cx + w / 2, y0 + d), _rect(wx0, y0 + d, wx0 + wing_w, y0 + d + wing_d)]
        kind = "l_shape"
    else:
        rects, kind = [_rect(cx - w / 2, cy - d / 2, cx + w / 2, cy + d / 2)], "detached"
    angle = rng.uniform(-6, 6)
    turn = lambda g: affinity.rotate(g, angle, origin=(cx, cy))
    outline = turn(unary_union(rects)) if len(rects) > 1 else None
    return Building([Part(turn(r), roof) for r in rects], kind, rng.uniform(4, 8), colour, outline)


def _semi_detached(rng, cx: float, cy: float, lot_w: float, lot_d: float) -> list[Building]:
    """Two houses sharing one wall (a duplex), mirrored."""
    w, d = rng.uniform(0.3, 0.4) * lot_w, rng.uniform(0.45, 0.7) * lot_d
    colour = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))]
    height = rng.uniform(5, 8)
    left = _rect(cx - w, cy - d / 2, cx, cy + d / 2)
    right = _rect(cx, cy - d / 2 + rng.choice([0.0, 1.0]), cx + w, cy + d / 2)
    return [
        Building([Part(r, "gable")], "semi_detached", height, colour + rng.normal(0, 8, 3).astype(np.float32))
        for r in (left, right)
    ]


def _detached_block(rng, bx0, by0, bx1, by1) -> list[Building]:
    lot_w = rng.uniform(12, 18)
    n_lots = max(1, int((bx1 - bx0) // lot_w))
    lot_w = (bx1 - bx0) / n_lots
    lot_d = (by1 - by0) / 2
    out: list[Building] = []
    for i in range(n_lots):
        for j in range(2):
            if rng.random() < 0.12:
                continue
            cx, cy = bx0 + (i + 0.5) * lot_w, by0 + (j + 0.5) * lot_d
            out.extend(
                _semi_detached(rng, cx, cy, lot_w, lot_d)
                if rng.random() < 0.25
                else [_house(rng, cx, cy, lot_w, lot_d)]
            )
    return out


def _large_block(rng, bx0, by0, bx1, by1) -> list[Building]:
    """One or two big flat-roofed buildings (warehouses, apartment blocks), touching when there are two."""
    margin = rng.uniform(2, 5)
    x0, y0, x1, y1 = bx0 + margin, by0 + margin, bx1 - margin, by1 - margin
    colour = ROOF_COLOURS[rng.integers(len(ROOF_COLOURS))]
    if rng.random() < 0.5:
        split = x0 + (x1 - x0) * rng.uniform(0.35, 0.65)
        rects = [_rect(x0, y0, split, y1), _rect(split, y0 + rng.uniform(0, 4), x1, y1 - rng.uniform(0, 4))]
    else:
        rects = [_rect(x0, y0, x1, y1 - rng.uniform(0, (y1 - y0) / 3))]
    return [
        Building(
            [Part(r, "flat")], "large", rng.uniform(8, 20), colour + rng.normal(0, 12, 3).astype(np.float32)
        )
        for r in rects
    ]


@dataclass
class Layout:
    roads: list[Polygon]
    sidewalks: list[Polygon]
    buildings: list[Building]
    parks: list[Polygon]


def _layout(rng: np.random.Generator, half: float) -> Layout:
    """Street grid over [-half, half]^2 (metres) with a block type drawn per block."""
    road_w = rng.uniform(6, 10)
    block_w, block_d = rng.uniform(45, 80), rng.uniform(30, 48)
    xs = np.arange(
        -half - rng.uniform(0, block_w + road_w), half, block_w + road_w
    )  # road x, block to its right
    ys = np.arange(-half - rng.uniform(0, block_d + road_w), half, block_d + road_w)
    roads = [_rect(x - road_w, -half, x, half) for x in xs] + [_rect(-half, y - road_w, half, y) for y in ys]
    sidewalks = [r.buffer(1.6, join_style="mitre") for r in roads]
    buildings, parks = [], []
    choices = {"terrace": 0.45, "detached": 0.32, "large": 0.13, "park": 0.10}
    for x in xs:
        for y in ys:
            bx0, by0, bx1, by1 = x + 1.6, y + 1.6, x + block_w - 1.6, y + block_d - 1.6
            kind = rng.choice(list(choices), p=list(choices.values()))
            if kind == "park":
                parks.append(_rect(bx0, by0, bx1, by1))
                continue
            maker = {"terrace": _terrace_block, "detached": _detached_block, "large": _large_block}[kind]
            buildings.extend(maker(rng, bx0, by0, bx1, by1))
    return Layout(roads, sidewalks, _without_overlaps(buildings), parks)


def _without_overlaps(buildings: list[Building]) -> list[Building]:
    """Drop any building whose interior overlaps an earlier one (touching walls are kept)."""
    shapes = np.array([b.footprint for b in buildings], dtype=object)
    if shapes.size == 0:
        return buildings
    left, right = STRtree(shapes).query(shapes, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    areas = shapely.area(shapely.intersection(shapes[left], shapes[right]))
    dropped: set[int] = set()
    for i, j, area in zip(left, right, areas):
        if area > 0.05 and i not in dropped:
            dropped.add(int(j))
    return [b for k, b in enumerate(buildings) if k not in dropped]


# ---------------------------------------------------------------- rendering (pixel space, rasterio convention)


def _to_pixels(geom, size: int, pixel_size: float, angle: float):
    """Local metres (y up, origin at scene centre) -> pixel coordinates (x right, y down), rotated by ``angle``."""
    c, s = math.cos(angle) / pixel_size, math.sin(angle) / pixel_size
    return affinity.affine_transform(geom, [c, -s, -s, -c, size / 2, size / 2])


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth noise with unit standard deviation and feature size about ``sigma`` pixels."""
    small = max(1, int(sigma / 2))
    field_ = rng.normal(size=(shape[0] // small + 2, shape[1] // small + 2)).astype(np.float32)
    field_ = ndimage.gaussian_filter(field_, 2.0)
    field_ = ndimage.zoom(field_, small, order=1)[: shape[0], : shape[1]]
    return (field_ - field_.mean()) / (field_.std() + 1e-6)


def _burn(shapes, size: int, dtype="int32") -> np.ndarray:
    shapes = [(g, v) for g, v in shapes if not g.is_empty]
    if not shapes:
        return np.zeros((size, size), dtype=dtype)
    return features.rasterize(
        shapes, out_shape=(size, size), transform=Affine.identity(), fill=0, dtype=dtype
    )


def _ground(rng, size: int) -> np.ndarray:
    mix = np.clip(0.5 + 0.35 * _noise(rng, (size, size), 40), 0, 1)[..., None]
    img = GRASS * (1 - mix) + DIRT * mix
    img *= (1 + 0.06 * _noise(rng, (size, size), 6))[..., None]
    img += rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    return img.astype(np.float32)


def _paint_roads(img, rng, layout, size, to_px) -> None:
    walk = _burn([(to_px(g), 1) for g in layout.sidewalks], size) > 0
    road = _burn([(to_px(g), 1) for g in layout.roads], size) > 0
    grain = (1 + 0.05 * _noise(rng, (size, size), 3))[..., None]
    img[walk] = SIDEWALK * grain[walk]
    img[road] = ASPHALT * grain[road]


def _paint_shadows(img, buildings_px, heights, offset_px: np.ndarray, size: int) -> None:
    """Darken the ground on the side away from the sun: the hull of each part and its shifted copy."""
    shapes = []
    for parts, h in zip(buildings_px, heights):
        dx, dy = offset_px * h
        for rect in parts:
            shapes.append((unary_union([rect, affinity.translate(rect, dx, dy)]).convex_hull, 1))
    mask = _burn(shapes, size) > 0
    img[mask] *= 0.52


def _paint_roofs(img, rng, buildings, parts_px, size, pixel_size, sun: np.ndarray) -> None:
    """Roof colour per building, gable halves lit differently, a bright ridge, tile stripes and eave lines."""
    flat_parts = [
        (rect, b_i, p.roof)
        for b_i, (b, rects) in enumerate(zip(buildings, parts_px))
        for p, rect in zip(b.parts, rects)
    ]
    ids = _burn([(rect, k + 1) for k, (rect, _, _) in enumerate(flat_parts)], size)
    rows, cols = np.nonzero(ids)
    if rows.size == 0:
        return
    k = ids[rows, cols] - 1
    colour = np.stack([buildings[b].colour for _, b, _ in flat_parts])[k]
    shade = np.ones(k.size, np.float32)
    along = [p.ridge_along_row for b in buildings for p in b.parts]
    ridge_info = np.array(
        [_ridge(rect, a) for (rect, _, _), a in zip(flat_parts, along)], np.float32
    )  # cx, cy, nx, ny, half_width
    gable = np.array([roof == "gable" for _, _, roof in flat_parts])[k]
    d = (cols + 0.5 - ridge_info[k, 0]) * ridge_info[k, 2] + (rows + 0.5 - ridge_info[k, 1]) * ridge_info[
        k, 3
    ]
    facing = np.sign(d) * (ridge_info[k, 2] * sun[0] + ridge_info[k, 3] * sun[1])
    shade[gable] = np.where(facing[gable] > 0, 1.12, 0.82)
    stripes = 1 + 0.05 * np.sin(2 * np.pi * d * pixel_size / 0.45)
    shade[gable] *= stripes[gable]
    shade[gable & (np.abs(d) < 0.7)] = 1.25
    pixels = colour * shade[:, None] * (1 + rng.normal(0, 0.03, (k.size, 1))).astype(np.float32)
    img[rows, cols] = pixels
    building_of = np.array([b for _, b, _ in flat_parts], np.int32)
    _eaves(img, np.where(ids > 0, building_of[ids - 1] + 1, 0))


def _ridge(rect: Polygon, along_row: bool = False) -> tuple[float, float, float, float, float]:
    """Centre, unit normal of the ridge and half the roof width, in pixels.

    The ridge runs along the rectangle's long side, or along its local x side (the street) for terraces.
    """
    coords = np.asarray(rect.exterior.coords)[:4]
    e1, e2 = coords[1] - coords[0], coords[2] - coords[1]  # box(): e1 along local y, e2 along local x
    if along_row:
        long_edge, short_edge = e2, e1
    else:
        long_edge, short_edge = (e1, e2) if np.hypot(*e1) >= np.hypot(*e2) else (e2, e1)
    direction = long_edge / (np.hypot(*long_edge) + 1e-9)
    c = rect.centroid
    return c.x, c.y, -direction[1], direction[0], np.hypot(*short_edge) / 2


def _eaves(img: np.ndarray, building_ids: np.ndarray) -> None:
    """Darken pixels on a building's outline, including walls shared with a neighbour."""
    inside = building_ids > 0
    edge = np.zeros_like(inside)
    for axis in (0, 1):
        diff = np.diff(building_ids, axis=axis) != 0
        if axis == 0:
            edge[1:] |= diff
            edge[:-1] |= diff
        else:
            edge[:, 1:] |= diff
            edge[:, :-1] |= diff
    img[edge & inside] *= 0.78


def _trees(rng, layout_px_buildings, size, pixel_size) -> list[Polygon]:
    """Irregular round crowns: along streets, in parks, in gardens, some overhanging roofs."""
    n = int(rng.uniform(25, 60) * (size / 512) ** 2)
    crowns = []
    for _ in range(n):
        cx, cy = rng.uniform(0, size, 2)
        if layout_px_buildings and rng.random() < 0.3:  # next to a building, partly over its roof
            b = layout_px_buildings[rng.integers(len(layout_px_buildings))]
            edge = b.exterior.interpolate(rng.random(), normalized=True)
            cx, cy = edge.x, edge.y
        r = rng.uniform(1.5, 5.0) / pixel_size
        blobs = [
            Point(cx + dx, cy + dy).buffer(r * rng.uniform(0.6, 0.9), 12)
            for dx, dy in rng.normal(0, r * 0.3, (3, 2))
        ]
        crowns.append(unary_union(blobs))
    return crowns


def _paint_trees(img, rng, crowns, offset_px, size) -> None:
    shadow = _burn([(affinity.translate(c, *(offset_px * 5.0)), 1) for c in crowns], size) > 0
    img[shadow] *= 0.6
    ids = _burn([(c, i + 1) for i, c in enumerate(crowns)], size)
    mask = ids > 0
    if not mask.any():
        return
    dist = ndimage.distance_transform_edt(mask)
    canopy = np.array([42, 68, 36], np.float32) * (0.75 + 0.35 * np.clip(dist / 6.0, 0, 1))[..., None]
    canopy *= (1 + 0.12 * _noise(rng, (size, size), 2))[..., None]
    img[mask] = canopy[mask]


# ---------------------------------------------------------------- scene


def _scene_grid(rng: np.random.Generator, size: int, pixel_size: float) -> tuple[str, Affine]:
    zone = int(rng.integers(10, 19))
    x0 = float(np.round(rng.uniform(300_000, 700_000 - size * pixel_size), 1))
    y0 = float(np.round(rng.uniform(3_300_000, 4_600_000), 1))
    return f"EPSG:326{zone:02d}", Affine(pixel_size, 0.0, x0, 0.0, -pixel_size, y0)


def render_scene(seed: int, index: int = 0, size: int = 512, pixel_size: float | None = None):
    """Image (HxWx3 uint8), labels (list of (polygon in pixel space, properties)), CRS and transform."""
    rng = np.random.default_rng([seed, index])
    pixel_size = float(pixel_size or np.round(rng.uniform(0.3, 0.5), 2))
    crs, transform = _scene_grid(rng, size, pixel_size)
    angle = rng.uniform(0, math.pi)
    half = size * pixel_size * 0.75
    layout = _layout(rng, half)
    to_px = lambda g: _to_pixels(g, size, pixel_size, angle)
    frame = box(0, 0, size, size)
    buildings = [b for b in layout.buildings if to_px(b.footprint).intersects(frame)]
    parts_px = [[to_px(p.rect) for p in b.parts] for b in buildings]
    sun_az = rng.uniform(0, 2 * math.pi)
    sun = np.array([math.cos(sun_az), math.sin(sun_az)], np.float32)  # direction towards the sun, pixel axes
    offset_px = -sun * rng.uniform(0.35, 0.7) / pixel_size  # shadow shift per metre of height
    img = _ground(rng, size)
    _paint_roads(img, rng, layout, size, to_px)
    _paint_shadows(img, parts_px, [b.height_m for b in buildings], offset_px, size)
    _paint_roofs(img, rng, buildings, parts_px, size, pixel_size, sun)
    footprints_px = [to_px(b.footprint) for b in buildings]
    _paint_trees(img, rng, _trees(rng, footprints_px, size, pixel_size), offset_px, size)
    img = ndimage.gaussian_filter(img, sigma=(0.6, 0.6, 0)) + rng.normal(0, 2.5, img.shape).astype(np.float32)
    labels = []
    for b, fp in zip(buildings, footprints_px):
        clipped = fp.intersection(frame)
        if clipped.geom_type != "Polygon" and hasattr(clipped, "geoms"):
            clipped = max(clipped.geoms, key=lambda g: g.area if g.geom_type == "Polygon" else 0.0)
        if clipped.geom_type == "Polygon" and clipped.area >= 12:
            labels.append(
                (clipped, {"kind": b.kind, "roof": b.parts[0].roof, "height_m": round(b.height_m, 1)})
            )
    return np.clip(img, 0, 255).astype(np.uint8), labels, crs, transform


def _label_collection(labels, crs: str, transform: Affine) -> dict:
    to_world = [transform.a, transform.b, transform.d, transform.e, transform.c, transform.f]
    feats = []
    for i, (poly, props) in enumerate(labels):
        world = mapping(affinity.affine_transform(poly, to_world))
        geom = {
            "type": "Polygon",
            "coordinates": [[[round(x, 3), round(y, 3)] for x, y in ring] for ring in world["coordinates"]],
        }
        feats.append(
            {"type": "Feature", "id": i, "properties": {"building_id": i, **props}, "geometry": geom}
        )
    epsg = crs.split(":")[1]
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}},
        "features": feats,
    }


def make_scene(
    out_dir: str | Path, seed: int, index: int = 0, size: int = 512, pixel_size: float | None = None
) -> tuple[Path, Path]:
    """Write ``scene_{index:03d}.tif`` (RGB uint8 GeoTIFF) and ``scene_{index:03d}.geojson`` (labels, scene CRS)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    img, labels, crs, transform = render_scene(seed, index, size, pixel_size)
    tif, geojson = out_dir / f"scene_{index:03d}.tif", out_dir / f"scene_{index:03d}.geojson"
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
        "photometric": "RGB",
    }
    if size % 16 == 0 and size >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.moveaxis(img, -1, 0))
    geojson.write_text(json.dumps(_label_collection(labels, crs, transform)))
    return tif, geojson


def synth(out_dir: str | Path, n: int, seed: int = 0, size: int = 512) -> list[tuple[Path, Path]]:
    """Write ``n`` scenes (indices 0..n-1) with their labels into ``out_dir``."""
    return [make_scene(out_dir, seed, index, size) for index in range(n)]
