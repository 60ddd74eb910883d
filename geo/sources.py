"""Labelled imagery as users bring it: a scene (GeoTIFF, any raster, or an XYZ tile folder) with labels from a
vector file (optionally filtered) or a raster mask. A JSON manifest names several places of such data.

Manifest (paths relative to a root folder given when loading it)::

    {"places": [
      {"name": "quebec", "scenes": ["real/quebec/tiled_image_*.tif"],
       "label_mask": ["tiled_image_", "tiled_label_"]},
      {"name": "new-brunswick", "scenes": ["real/new-brunswick/*.tif"],
       "labels": "real/new-brunswick/BakerLake_2017_clipped.gpkg", "where": "Niveau_2 = 'Building'"},
      {"name": "kampala", "xyz": "real/oam-kampala/tiles", "zoom": 19, "labels": "real/oam-kampala/labels.geojson"}
    ]}

``label_mask`` is [text in the scene's file name, its replacement] naming each scene's mask;
``"labels_by_folder": true`` takes the one GeoJSON / GeoPackage beside each scene; ``"align_labels": true`` moves
each scene's labels onto its roofs when they sit measurably off them (geo/registration.py; ``"scene"``: one shift
per scene instead of one per window where a window's own clears the bar).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from errors import UserError
from geo.labels import LabelSet, read_label_mask, read_labels


@dataclass(frozen=True)
class LabelSource:
    """Where a scene's building labels come from: a vector file (with an optional SQL filter) or a raster mask."""

    path: str
    where: str | None = None
    mask: bool = False
    align: bool = False  # move the labels onto the scene's roofs (geo.registration) wherever they are read
    align_windows: bool = True  # ... letting each window's own shift move the labels in it (else one per scene)

    def read(self, scene_crs: str, crs_override: str | None = None) -> LabelSet:
        """The building polygons in ``scene_crs`` (``crs_override``: the CRS of vector coordinates that name none)."""
        if self.mask:
            return read_label_mask(self.path, scene_crs)
        return read_labels(self.path, scene_crs, crs_override, where=self.where)


@dataclass(frozen=True)
class LabelledScene:
    scene: str
    labels: LabelSource


@dataclass
class Place:
    name: str
    scenes: list[LabelledScene] = field(default_factory=list)


def aligned(place: Place, by_window: bool = True) -> Place:
    """The same place with every scene's labels registered to its imagery (``LabelSource.align``; ``by_window``
    False: one shift per scene)."""
    return Place(place.name, [LabelledScene(s.scene, replace(s.labels, align=True, align_windows=by_window))
                              for s in place.scenes])


def load_places(manifest: str | Path, root: str | Path, mosaic_dir: str | Path) -> list[Place]:
    """The places of a manifest, XYZ folders mosaicked into ``mosaic_dir``; UserError when a path is missing."""
    manifest, root = Path(manifest), Path(root)
    if not root.is_dir():
        raise UserError(f"data root '{root}' is not a folder; give the folder the manifest's paths start from")
    try:
        entries = json.loads(manifest.read_text())["places"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"manifest '{manifest}' is not a places manifest ({exc}); see geo/sources.py") from exc
    return [_place(entry, root, Path(mosaic_dir)) for entry in entries]


def _place(entry: dict, root: Path, mosaic_dir: Path) -> Place:
    name = entry["name"]
    if "xyz" in entry:
        from geo.xyz import write_mosaics

        mosaics = write_mosaics(root / entry["xyz"], mosaic_dir, name)
        zoom = entry.get("zoom")
        scenes = [m for m in mosaics if zoom is None or m.stem.endswith(f"-z{zoom}")]
    else:
        scenes = sorted(p for pattern in entry["scenes"] for p in root.glob(pattern))
    if not scenes:
        raise UserError(f"place '{name}' has no scenes under '{root}'; check the manifest's paths")
    place = Place(name, [LabelledScene(str(s), _labels_for(entry, root, Path(s))) for s in scenes])
    mode = entry.get("align_labels")  # true: by window (the default); "scene": one shift per scene
    return aligned(place, by_window=mode != "scene") if mode else place


def _labels_for(entry: dict, root: Path, scene: Path) -> LabelSource:
    if "label_mask" in entry:
        old, new = entry["label_mask"]
        return LabelSource(str(scene.with_name(scene.name.replace(old, new))), mask=True)
    if entry.get("labels_by_folder"):  # the one vector file beside each scene
        matches = sorted(p for p in scene.parent.iterdir() if p.suffix.lower() in (".geojson", ".gpkg"))
        if len(matches) != 1:
            raise UserError(f"place '{entry['name']}': expected one label file beside '{scene}', found {len(matches)}")
        return LabelSource(str(matches[0]), where=entry.get("where"))
    matches = sorted(root.glob(entry["labels"]))
    if not matches:
        raise UserError(f"place '{entry['name']}': labels '{entry['labels']}' not found under '{root}'")
    return LabelSource(str(matches[0]), where=entry.get("where"))
