"""The Tiles page's table: one page of tiles in review-priority order with thumbnails and per-status counts.
Only the shown page is read (COUNT + LIMIT/OFFSET + one GROUP BY), so 10,000 tiles open as fast as 10.
Also the one-line count of tiles still waiting for a prediction."""
from __future__ import annotations

import pandas as pd

from app.images import thumbnail_url
from db.queries import project_scenes
from db.review import TileFilter, count_tiles, list_tiles
from db.session import transaction
from services.status import prediction_backlog

COLUMNS = ["thumbnail", "tile", "scene", "window", "state", "pending", "accepted", "rejected", "human",
           "likely fused", "uncertainty"]


def scene_names(project_id: int) -> dict[int, str]:
    with transaction() as session:
        return {s.id: s.name for s in project_scenes(session, project_id)}


def backlog_note(project_id: int) -> str | None:
    """"N tiles waiting for prediction" (and the job predicting them), or None when every tile has one."""
    with transaction() as session:
        backlog = prediction_backlog(session, project_id)
    if not backlog["waiting"]:
        return None
    text = f"{backlog['waiting']} tiles waiting for prediction"
    if backlog["job_id"] is None:
        return text + " (no prediction job queued)"
    job = f"background job {backlog['job_id']} {backlog['job_status']}"
    return text + f" ({job}; progress on the Training page)"


def tiles_frame(f: TileFilter, sort: str, page: int, page_size: int, thumbnails: bool = True
                ) -> tuple[pd.DataFrame, int]:
    """(one page of tiles as a DataFrame, number of matching tiles)."""
    with transaction() as session:
        total = count_tiles(session, f)
        rows = list_tiles(session, f, sort, page * page_size, page_size)
        scenes = {s.id: s for s in project_scenes(session, f.project_id)}
        info = {sid: (s.name, s.path, s.band_stats, s.nodata) for sid, s in scenes.items()}
    records = []
    for r in rows:
        name, path, stats, nodata = info[r["scene_id"]]
        thumb = thumbnail_url(path, r["col_off"], r["row_off"], r["width"], r["height"], stats, nodata) \
            if thumbnails else ""
        records.append([thumb, r["tile_id"], name, f"{r['col_off']}, {r['row_off']}",
                        r["review_state"].replace("_", " "), r.get("pending", 0), r.get("accepted", 0),
                        r.get("rejected", 0), r.get("human", 0), r["fused_count"],
                        None if r["uncertainty"] is None else round(r["uncertainty"], 3)])
    return pd.DataFrame(records, columns=COLUMNS), total
