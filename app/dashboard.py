"""Dashboard page logic: the tile map coloured by review state, footprints reviewed per day per reviewer, each
model version's accuracy, the score distribution of pending footprints. Plain data (pandas frames, a pydeck
deck, Altair charts); the page only draws them.

Accuracy per version, two series, each saying what it rests on:
- ``reviewed F1``: computed here. On the reviewed tiles a version predicted last, its predictions (the model's
  own outlines: a footprint's geometry before the first review edit) against the reviewed buildings (the tile's
  accepted footprints), SpaceNet rule (IoU >= 0.5, one match per building), counts summed over tiles.
- ``validation F1``: stored by the retrain job (``ModelVersion.metrics["new"]["f1"]``, whole validation tiles),
  or a model card's ``real_eval`` mean F1 for a shipped version.
"""
from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pydeck as pdk

from db import dashboard_queries as q
from db.enums import TileState
from db.session import transaction
from geo.vector import geometry_from_json, reproject
from model.metrics import Counts, spacenet_counts
from services.versions import real_eval, version_card

STATE_COLOURS = {  # fill RGBA
    TileState.UNREVIEWED.value: [140, 140, 140, 90],
    TileState.IN_PROGRESS.value: [255, 200, 0, 150],
    TileState.REVIEWED.value: [0, 210, 90, 170],
}
SCORE_BINS = 20


def tile_map(project_id: int) -> tuple[pdk.Deck | None, dict[str, int]]:
    """(deck of the project's tiles coloured by review state or None without tiles, {state: tile count})."""
    with transaction() as session:
        tiles = q.tile_states(session, project_id)
    counts = {state: 0 for state in STATE_COLOURS}
    rows = []
    for t in tiles:
        lon0, lat0, lon1, lat1 = t["bounds"]
        counts[t["state"]] = counts.get(t["state"], 0) + 1
        rows.append({"tile": t["tile"], "state": t["state"].replace("_", " "),
                     "polygon": [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1]],
                     "fill": STATE_COLOURS.get(t["state"], STATE_COLOURS[TileState.UNREVIEWED.value])})
    if not rows:
        return None, counts
    lons = [c for t in tiles for c in (t["bounds"][0], t["bounds"][2])]
    lats = [c for t in tiles for c in (t["bounds"][1], t["bounds"][3])]
    span = max(max(lons) - min(lons), max(lats) - min(lats), 1e-6)
    view = pdk.ViewState(longitude=(min(lons) + max(lons)) / 2, latitude=(min(lats) + max(lats)) / 2,
                         zoom=float(np.clip(np.log2(360.0 / span) - 0.5, 1, 22)))
    layer = pdk.Layer("PolygonLayer", id="tiles", data=rows, get_polygon="polygon", get_fill_color="fill",
                      get_line_color=[30, 30, 30], line_width_min_pixels=1, pickable=True, stroked=True)
    return pdk.Deck(layers=[layer], initial_view_state=view, map_provider=None,
                    tooltip={"text": "tile {tile}: {state}"}), counts


def reviews_per_day(project_id: int) -> pd.DataFrame:
    """Columns day, reviewer, footprints (one row per day and reviewer)."""
    with transaction() as session:
        rows = q.reviewed_per_day(session, project_id)
    return pd.DataFrame(rows, columns=["day", "reviewer", "footprints"])


def reviews_chart(frame: pd.DataFrame) -> alt.Chart:
    """Stacked bars: footprints reviewed per day, one colour per reviewer."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("day:O", title="day (UTC)"), y=alt.Y("footprints:Q", title="footprints reviewed"),
        color=alt.Color("reviewer:N"), tooltip=["day", "reviewer", "footprints"])


def version_accuracy(project_id: int) -> pd.DataFrame:
    """One row per model version, oldest first: version, reviewed_f1 / precision / recall and the tiles and
    buildings it rests on (None where it predicted no reviewed tile), validation_f1 (stored) and its source."""
    with transaction() as session:
        versions = [(v.id, v.name, v.metrics or {}, real_eval(version_card(v))) for v in q.versions(session)]
        tiles = q.reviewed_tile_predictions(session, project_id)
        originals = q.first_geometries(session, [p["id"] for t in tiles for p in t["predicted"]])
    counts: dict[int, Counts] = {}
    tile_counts: dict[int, int] = {}
    for tile in tiles:
        proposals = [(_metric_geometry(originals.get(p["id"], p["geometry"]), tile["crs"]), p["score"])
                     for p in tile["predicted"]]
        truths = [_metric_geometry(g, tile["crs"]) for g in tile["buildings"]]
        version = tile["version_id"]
        counts[version] = counts.get(version, Counts()) + spacenet_counts(proposals, truths)
        tile_counts[version] = tile_counts.get(version, 0) + 1
    rows = []
    for version_id, name, metrics, real in versions:
        scores = counts[version_id].scores() if version_id in counts else None
        validation, source = _stored_f1(metrics, real)
        rows.append({"version": name, "reviewed_f1": scores["f1"] if scores else None,
                     "precision": scores["precision"] if scores else None,
                     "recall": scores["recall"] if scores else None,
                     "reviewed_tiles": tile_counts.get(version_id, 0),
                     "buildings": (scores["tp"] + scores["fn"]) if scores else 0,
                     "validation_f1": validation, "validation_source": source})
    return pd.DataFrame(rows, columns=["version", "reviewed_f1", "precision", "recall", "reviewed_tiles",
                                       "buildings", "validation_f1", "validation_source"])


def _metric_geometry(text: str, crs: str):
    """A lon/lat footprint in its scene's CRS (metres for IoU)."""
    return reproject(geometry_from_json(text), "EPSG:4326", crs)


def _stored_f1(metrics: dict[str, Any], real: dict[str, Any] | None) -> tuple[float | None, str]:
    new = metrics.get("new") if isinstance(metrics.get("new"), dict) else None
    if new and new.get("f1") is not None:
        tiles = metrics.get("val_tiles")
        return float(new["f1"]), f"retrain validation{f' ({tiles} tiles)' if tiles else ''}"
    f1s = [r["f1"] for r in (real or {}).get("rows", []) if r.get("f1") is not None]
    if real and (real.get("mean_f1") is not None or f1s):
        mean = real["mean_f1"] if real.get("mean_f1") is not None else float(np.mean(f1s))
        return float(mean), f"model card real_eval (mean of {len(real['rows'])} places)"
    return None, "none stored"


def accuracy_chart(frame: pd.DataFrame) -> alt.Chart:
    """Lines across versions (in creation order): reviewed F1 and stored validation F1."""
    long = frame.melt(id_vars=["version"], value_vars=["reviewed_f1", "validation_f1"], var_name="measure",
                      value_name="f1").dropna(subset=["f1"])
    long["measure"] = long["measure"].map({"reviewed_f1": "F1 on reviewed tiles",
                                           "validation_f1": "stored validation F1"})
    order = list(frame["version"])
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("version:N", sort=order, title="model version"), y=alt.Y("f1:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", title=None), tooltip=["version", "measure", alt.Tooltip("f1:Q", format=".3f")])


def score_histogram(project_id: int, bins: int = SCORE_BINS) -> pd.DataFrame:
    """Columns score (bin start), footprints: the pending footprints' scores in ``bins`` bins over [0, 1]."""
    with transaction() as session:
        scores = q.pending_scores(session, project_id)
    counts, edges = np.histogram(np.clip(scores, 0, 1), bins=bins, range=(0.0, 1.0))
    return pd.DataFrame({"score": np.round(edges[:-1], 3), "footprints": counts.astype(int)})
