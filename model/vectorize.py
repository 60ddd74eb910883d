"""From output maps to building polygons: threshold, separate touching buildings, trace, simplify, filter.

Separation is a seeded watershed: seeds are the border head's interior blobs, the distance head's high-distance
blobs, or (binary head) the peaks of the distance transform of the thresholded mask. Regions are traced with
``rasterio.features.shapes`` (holes kept), simplified with GEOS's Douglas-Peucker (``shapely.simplify``, topology
kept; tolerance in metres), moved to the scene CRS with the tile transform, repaired when invalid and dropped under a minimum area.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio import features
from rasterio.transform import Affine
from scipy import ndimage
from shapely.geometry import Polygon, shape
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from geo.raster import as_affine
from geo.vector import polygon_parts

DEFAULT_THRESHOLD = 0.5
DEFAULT_TOLERANCE_M = 0.5
DEFAULT_MIN_AREA_M2 = 5.0
SEED_LEVEL = {"interior": 0.6, "distance": 0.3}  # interior level and seed size tuned on synthetic scenes (seed 500)
MIN_SEED_PX = 30
BINARY_PEAK_H = 3.0  # px: distance-transform peaks must stand this high above the saddle between them
SEPARATION_SIGMA_PX = 0.7  # smoothing of the learned separation map before seeds (and model.fused) read it


@dataclass
class Detection:
    """One building polygon in the scene CRS with its score (mean building probability) and pixel label."""

    polygon: Polygon
    score: float
    label: int


def pixel_size_of(transform: Sequence[float] | Affine) -> float:
    t = as_affine(transform)
    return float((abs(t.a) + abs(t.e)) / 2.0)


def separation_key(outputs: dict[str, np.ndarray]) -> str | None:
    """The learned separation map the head has ("interior" or "distance"), None for a binary head."""
    return next((k for k in ("interior", "distance") if k in outputs), None)


def smoothed_separation(outputs: dict[str, np.ndarray]) -> np.ndarray | None:
    """The separation map smoothed as seeds read it (float32), None for a binary head. Computed once per block,
    it can be handed to ``segment`` and ``model.fused.fused_flags``, which both read it."""
    key = separation_key(outputs)
    if key is None:
        return None
    return ndimage.gaussian_filter(outputs[key].astype(np.float32), SEPARATION_SIGMA_PX)


def smoothed_probability(outputs: dict[str, np.ndarray], sigma_px: float | None) -> dict[str, np.ndarray]:
    """The outputs with the building probability smoothed by a Gaussian of ``sigma_px`` pixels (a model card's
    ``"prob_sigma_px"``): the network's pixel-to-pixel noise (index unpooling puts each value on one pixel of a
    2x2 block) evened out before thresholding. The outputs themselves for no or a zero sigma."""
    if not sigma_px:
        return outputs
    return {**outputs, "prob": ndimage.gaussian_filter(outputs["prob"].astype(np.float32), float(sigma_px))}


def _level_seeds(energy: np.ndarray, mask: np.ndarray, level: float) -> np.ndarray:
    """Connected blobs of ``energy >= level`` inside ``mask`` with at least ``MIN_SEED_PX`` pixels (int32 ids)."""
    markers, _ = ndimage.label((energy >= level) & mask)
    sizes = np.bincount(markers.ravel())
    markers[sizes[markers] < MIN_SEED_PX] = 0
    return markers.astype(np.int32)


def nested_seeds(energy: np.ndarray, mask: np.ndarray, level: float, step: float) -> np.ndarray:
    """Seeds at ``level``, where each seed that holds two or more seeds at ``level + step`` is replaced by them,
    and so on up the levels below 1: buildings whose interiors merge at a low level but part higher up get a seed
    each, while a faint building keeps its low seed (a coarse component tree, cheaper than h-maxima)."""
    if step <= 0:
        raise ValueError(f"the seed step must be positive, got {step}")
    markers = _level_seeds(energy, mask, level)
    level += step
    while level < 1.0 and markers.any():
        finer = _level_seeds(energy, mask, level)
        inside = finer > 0
        parent = np.zeros(int(finer.max()) + 1, np.int64)
        parent[finer[inside]] = markers[inside]  # a blob at a higher level lies inside one blob of the lower
        children = np.bincount(parent[1:], minlength=int(markers.max()) + 1)
        children[0] = 0
        split = children[markers] >= 2
        offset = int(markers.max())
        markers = np.where(split, 0, markers)
        markers[split & inside] = finer[split & inside] + offset  # ids stay distinct; unused ones are harmless
        level += step
    return markers.astype(np.int32)


def _seeds(outputs: dict[str, np.ndarray], mask: np.ndarray, seed_level: float | None = None,
           smooth: np.ndarray | None = None, seed_step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(markers int32, energy to flood from high to low) for the outputs the head has; ``seed_level`` overrides
    the head's ``SEED_LEVEL`` (a model card's "seed_level"), ``seed_step`` (the card's "seed_step") splits seeds
    at higher levels (``nested_seeds``), ``smooth`` is ``smoothed_separation(outputs)`` when the caller already
    has it."""
    key = separation_key(outputs)
    if key is not None:
        energy = smoothed_separation(outputs) if smooth is None else smooth
        level = SEED_LEVEL[key] if seed_level is None else seed_level
        if seed_step:
            return nested_seeds(energy, mask, level, seed_step), energy
        return _level_seeds(energy, mask, level), energy
    energy = ndimage.distance_transform_edt(mask).astype(np.float32)
    peaks = h_maxima(ndimage.gaussian_filter(energy, 1.0), BINARY_PEAK_H) > 0  # plateaus and ridges: one seed
    markers, _ = ndimage.label(peaks & mask)
    return markers.astype(np.int32), energy


def segment(outputs: dict[str, np.ndarray], threshold: float = DEFAULT_THRESHOLD,
            seed_level: float | None = None, smooth: np.ndarray | None = None,
            seed_step: float | None = None) -> np.ndarray:
    """int32 label image: one id per separated building (0 background). ``smooth``: ``smoothed_separation``'s
    map when the caller has it already (it is not recomputed); ``seed_step``: see ``nested_seeds``."""
    mask = outputs["prob"] >= threshold
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    markers, energy = _seeds(outputs, mask, seed_level, smooth, seed_step)
    labels, parts, seeds_per_part = _flood_parts(energy, markers, mask)
    seedless = seeds_per_part == 0  # blobs that got no seed become buildings as well, numbered after the seeded ones
    seedless[0] = False
    orphan_id = np.zeros(len(seeds_per_part), np.int32)
    orphan_id[seedless] = np.arange(1, int(seedless.sum()) + 1, dtype=np.int32) + labels.max()
    labels += orphan_id[parts]  # 0 on seeded parts and the background, whose labels it leaves as they are
    return labels.astype(np.int32, copy=False)


def flood_components(energy: np.ndarray, markers: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The same labels as ``watershed(-energy, markers, mask=mask)``, computed per connected part of the mask: a
    part with one seed is that seed's region whole, a part without seeds stays 0, and only parts with two or more
    seeds are flooded, each in its own bounding box (3-4x faster on dense blocks)."""
    return _flood_parts(energy, markers, mask)[0]


def _flood_parts(energy: np.ndarray, markers: np.ndarray,
                 mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``flood_components``'s labels, with the mask's part image and the seed count per part id (0 for the
    background), which ``segment`` reuses to number the seedless parts without labelling the mask again."""
    parts, n_parts = ndimage.label(mask)  # 4-connected, as the watershed floods
    seeded = markers > 0
    part_of_seed = np.zeros(int(markers.max()) + 1, np.int64)
    part_of_seed[markers[seeded]] = parts[seeded]  # ids the seed-size filter emptied stay at part 0
    seeds_per_part = np.bincount(part_of_seed, minlength=n_parts + 1)
    seeds_per_part[0] = 0  # so id 0 and the emptied ids never count as a one-seed part
    one_seed = seeds_per_part[part_of_seed] == 1
    part_label = np.zeros(n_parts + 1, np.int32)
    part_label[part_of_seed[one_seed]] = np.flatnonzero(one_seed)
    labels = part_label[parts]
    boxes = ndimage.find_objects(parts)
    for part in np.flatnonzero(seeds_per_part >= 2):
        box = boxes[part - 1]
        inside = parts[box] == part
        flooded = watershed(-energy[box], np.where(inside, markers[box], 0), mask=inside)
        labels[box][inside] = flooded[inside]
    return labels, parts, seeds_per_part


def _to_polygon(poly: Polygon, tolerance_px: float, transform: Affine) -> Polygon | None:
    """A traced region (pixel coordinates) simplified (Douglas-Peucker in GEOS, topology kept), valid (largest
    part when repair splits it), in the scene CRS."""
    if tolerance_px > 0:
        poly = shapely.simplify(poly, tolerance_px, preserve_topology=True)
    if not poly.is_valid:
        poly = max(polygon_parts(shapely.make_valid(poly)), key=lambda p: p.area, default=None)
    if poly is None or poly.is_empty or poly.geom_type != "Polygon":
        return None
    return shapely.affinity.affine_transform(poly, [transform.a, transform.b, transform.d, transform.e,
                                                    transform.c, transform.f])


def _region_stats(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean of ``values``, pixel count) per label id (mean 0 for ids without pixels)."""
    flat = labels.ravel()
    sums = np.bincount(flat, weights=values.ravel().astype(np.float64), minlength=int(labels.max()) + 1)
    counts = np.bincount(flat, minlength=int(labels.max()) + 1)
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0), counts


def labels_to_polygons(labels: np.ndarray, prob: np.ndarray, transform: Sequence[float] | Affine,
                       tolerance_m: float = DEFAULT_TOLERANCE_M, min_area_m2: float = DEFAULT_MIN_AREA_M2,
                       pixel_size_m: float | None = None) -> list[Detection]:
    """Trace each labelled region into a Detection (score = mean probability over the region)."""
    transform = as_affine(transform)
    pixel_m = pixel_size_m or pixel_size_of(transform)
    tolerance_px = tolerance_m / pixel_m
    scores, counts = _region_stats(prob, labels)
    detections = []
    for geom, value in features.shapes(labels, mask=labels > 0, connectivity=4, transform=Affine.identity()):
        if counts[int(value)] * pixel_m ** 2 < min_area_m2:  # its pieces together cover its pixels: all too small
            continue
        poly_px = shape(geom)
        if poly_px.area * pixel_m ** 2 < min_area_m2:
            continue
        poly = _to_polygon(poly_px, tolerance_px, transform)
        if poly is not None and poly.area > 0:
            detections.append(Detection(poly, float(scores[int(value)]), int(value)))
    return detections


def vectorize(outputs: dict[str, np.ndarray], transform: Sequence[float] | Affine,
              threshold: float = DEFAULT_THRESHOLD, tolerance_m: float = DEFAULT_TOLERANCE_M,
              min_area_m2: float = DEFAULT_MIN_AREA_M2, pixel_size_m: float | None = None,
              seed_level: float | None = None, seed_step: float | None = None) -> list[Detection]:
    """Building polygons (scene CRS) from one tile's output maps and the tile's affine transform."""
    labels = segment(outputs, threshold, seed_level, seed_step=seed_step)
    return labels_to_polygons(labels, outputs["prob"], transform, tolerance_m, min_area_m2, pixel_size_m)


def watershed_split(polygon: Polygon, outputs: dict[str, np.ndarray], tile_transform: Sequence[float] | Affine,
                    k: int) -> list[Polygon]:
    """Split one footprint (scene CRS) into ``k`` parts by a watershed from the k strongest seeds of the tile's
    interior / distance map (or the polygon's own distance transform); parts are clipped to the polygon."""
    if k < 2:
        return [polygon]
    transform = as_affine(tile_transform)
    shape_hw = outputs["prob"].shape
    inside = features.rasterize([(polygon, 1)], out_shape=shape_hw, transform=transform, dtype="uint8") > 0
    if inside.sum() < 2 * k:
        raise ValueError(f"the footprint covers {int(inside.sum())} pixels: too small to split into {k} parts")
    energy = ndimage.distance_transform_edt(inside).astype(np.float32)
    learned = next((key for key in ("distance", "interior") if key in outputs), None)
    if learned:
        energy = energy / max(float(energy.max()), 1.0) + 2.0 * ndimage.gaussian_filter(outputs[learned], 1.0)
    markers, centres = _k_markers(energy, inside, k)
    if learned:
        labels = watershed(-energy, markers, mask=inside)
    else:  # no learned separation map: the k-means partition itself (a watershed on a plain EDT is lopsided)
        labels = _nearest_centre(inside, centres)
    parts = []
    for geom, _value in features.shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        piece = shape(geom).intersection(polygon)
        parts.extend(p for p in polygon_parts(piece if piece.is_valid else shapely.make_valid(piece)) if p.area > 0)
    return sorted(parts, key=lambda p: -p.area)[:k] if len(parts) >= k else parts


def _k_markers(energy: np.ndarray, inside: np.ndarray, k: int, iterations: int = 15,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k seed pixels: centres of a k-means (``scipy.cluster.vq.kmeans2``, started evenly along the shape's long
    axis) of the shape's stronger pixels (energy in the upper three quarters), each moved to the nearest pixel
    inside the shape."""
    from scipy.cluster.vq import kmeans2

    coords = np.argwhere(inside).astype(np.float64)
    weights = energy[inside].astype(np.float64)
    strong = coords[weights >= np.quantile(weights, 0.25)]
    strong = strong if len(strong) >= k else coords
    centred = coords - coords.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    order = np.argsort(centred @ axis)
    start = np.array([coords[order[int((i + 0.5) * len(order) / k)]] for i in range(k)])
    centres, _ = kmeans2(strong, start, iter=iterations, minit="matrix", missing="warn", seed=seed)
    markers = np.zeros(inside.shape, np.int32)
    for j, centre in enumerate(centres, start=1):
        r, c = coords[np.argmin(((coords - centre) ** 2).sum(-1))].astype(int)
        markers[r, c] = j
    return markers, centres


def _nearest_centre(inside: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Label each inside pixel with its nearest centre (1-based)."""
    coords = np.argwhere(inside)
    labels = np.zeros(inside.shape, np.int32)
    labels[tuple(coords.T)] = np.argmin(((coords[:, None, :] - centres[None]) ** 2).sum(-1), axis=1) + 1
    return labels
