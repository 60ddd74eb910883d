"""The SQLite R*Tree over footprint boxes (migration 0003) answers the bounding-box query with exactly the rows of
the plain btree query and of a brute-force check, also after inserts, updates, deletes and cascading deletes."""
from __future__ import annotations

import os

import numpy as np
from sqlalchemy import delete, func, insert, select, text, update

from db.queries import MAX_FOOTPRINT_DEG, bbox_meets, footprints_in_bbox, get_or_create_project
from db.schema import Footprint, Project, Scene, Tile
from db.session import get_engine, transaction
from db.spatial_index import RTREE_TABLE, has_rtree
from conftest import postgres_url

SQUARE = '{{"type": "Polygon", "coordinates": [[[{0}, {1}], [{2}, {1}], [{2}, {3}], [{0}, {3}], [{0}, {1}]]]}}'
LON0, LAT0, SPAN = -84.5, 33.6, 0.01


def _seed(session, project_name: str, rng: np.random.Generator, count: int = 400) -> list[int]:
    """A project with one scene, 4 tiles and ``count`` footprints (boxes up to 3e-4 deg); returns tile ids."""
    project = get_or_create_project(session, project_name)
    scene = Scene(project_id=project.id, path=f"/{project_name}.tif", name=project_name, crs="EPSG:4326",
                  transform=[1, 0, 0, 0, -1, 0], width=1, height=1, band_count=3, dtype="uint8", band_stats=[])
    session.add(scene)
    session.flush()
    # Core inserts naming only columns every schema revision has, so an old database (made at 0002) can be seeded
    tile_ids = [session.execute(insert(Tile.__table__).values(
        scene_id=scene.id, col_off=i, row_off=0, width=1, height=1, minx=0, miny=0, maxx=1, maxy=1, min_lon=0,
        min_lat=0, max_lon=1, max_lat=1).returning(Tile.__table__.c.id)).scalar_one() for i in range(4)]
    rows = [_box_row(rng, tile_ids) for _ in range(count)]
    session.execute(insert(Footprint), rows[: count // 2])  # bulk Core insert
    session.add_all(Footprint(**row) for row in rows[count // 2:])  # ORM inserts
    session.flush()
    return tile_ids


def _box_row(rng: np.random.Generator, tile_ids: list[int]) -> dict:
    x0, y0 = LON0 + rng.random() * SPAN, LAT0 + rng.random() * SPAN
    x1, y1 = x0 + rng.random() * 3e-4, y0 + rng.random() * 3e-4
    return {"tile_id": int(rng.choice(tile_ids)), "geometry": SQUARE.format(x0, y0, x1, y1), "min_lon": x0,
            "min_lat": y0, "max_lon": x1, "max_lat": y1, "source": "model", "status": "pending", "version": 1}


def _boxes(rng: np.random.Generator, n: int = 60) -> list[tuple[float, float, float, float]]:
    out = []
    for _ in range(n):
        x, y = LON0 - 0.001 + rng.random() * (SPAN + 0.002), LAT0 - 0.001 + rng.random() * (SPAN + 0.002)
        w, h = rng.random() * 0.002, rng.random() * 0.002
        out.append((x, y, x + w, y + h))
    return out


def _assert_same_rows(session, boxes, project_id: int | None = None) -> int:
    """R*Tree answer == plain btree answer == brute force, for every box; returns the rows matched in all."""
    everything = session.execute(select(Footprint.id, Footprint.min_lon, Footprint.min_lat, Footprint.max_lon,
                                        Footprint.max_lat)).all()
    matched = 0
    for box in boxes:
        fast = [fp.id for fp in footprints_in_bbox(session, *box, project_id=project_id)]
        plain = list(session.scalars(select(Footprint.id).where(bbox_meets(session, *box, use_rtree=False))
                                     .order_by(Footprint.id)))
        brute = sorted(r.id for r in everything if r.min_lon <= box[2] and r.max_lon >= box[0]
                       and r.min_lat <= box[3] and r.max_lat >= box[1])
        assert fast == plain == brute, box
        matched += len(fast)
    return matched


def _rtree_count(session) -> int:
    return session.execute(text(f"SELECT count(*) FROM {RTREE_TABLE}")).scalar_one()


def test_rtree_answers_like_the_plain_query_through_edits(data_home):
    rng = np.random.default_rng(7)
    boxes = _boxes(rng)
    with transaction() as session:
        assert has_rtree(session)
        tile_ids = _seed(session, "rtree", rng)
    with transaction() as session:
        assert _rtree_count(session) == session.scalar(select(func.count()).select_from(Footprint)) == 400
        assert _assert_same_rows(session, boxes) > 50  # the boxes do hit footprints
    with transaction() as session:  # move a third of them (ORM and Core updates), delete some, cascade a tile
        ids = list(session.scalars(select(Footprint.id).order_by(Footprint.id)))
        for fp_id in ids[::6]:
            fp = session.get(Footprint, fp_id)
            fp.min_lon, fp.max_lon = fp.min_lon + 0.003, fp.max_lon + 0.003
        session.execute(update(Footprint).where(Footprint.id.in_(ids[1::6]))
                        .values(min_lat=Footprint.min_lat - 0.002, max_lat=Footprint.max_lat - 0.002))
        session.execute(delete(Footprint).where(Footprint.id.in_(ids[2::6])))
        session.delete(session.get(Footprint, ids[3]))
        session.execute(delete(Tile).where(Tile.id == tile_ids[0]))  # footprints go by ON DELETE CASCADE
    with transaction() as session:
        left = session.scalar(select(func.count()).select_from(Footprint))
        assert 150 < left < 300 and _rtree_count(session) == left
        assert _assert_same_rows(session, boxes) > 30


def test_touching_boxes_and_project_filter(data_home):
    rng = np.random.default_rng(3)
    with transaction() as session:
        _seed(session, "a", rng, count=50)
        other = get_or_create_project(session, "b")
        _seed(session, "b", rng, count=50)
        fp = session.scalars(select(Footprint).order_by(Footprint.id)).first()
        edge = (fp.max_lon, fp.max_lat, fp.max_lon + 0.001, fp.max_lat + 0.001)  # touches its corner only
        assert fp.id in [f.id for f in footprints_in_bbox(session, *edge)]
        assert _assert_same_rows(session, _boxes(rng, 20), project_id=None) > 0
        in_b = footprints_in_bbox(session, LON0 - 1, LAT0 - 1, LON0 + 1, LAT0 + 1, project_id=other.id)
        tiles_of_b = set(session.scalars(select(Tile.id).join(Scene).where(Scene.project_id == other.id)))
        assert len(in_b) == 50 and {f.tile_id for f in in_b} <= tiles_of_b
    assert MAX_FOOTPRINT_DEG > 3e-4  # the plain query's bound admits every footprint these tests make


def test_postgresql_keeps_the_btree_query(data_home, monkeypatch):
    url = postgres_url()
    monkeypatch.setenv("DATABASE_URL", url)
    get_engine.cache_clear()
    name = f"rtree-test-{os.getpid()}"
    rng = np.random.default_rng(5)
    try:
        with transaction() as session:
            assert not has_rtree(session)
            project_id = get_or_create_project(session, name).id
            _seed(session, name, rng, count=100)
        with transaction() as session:
            for box in _boxes(rng, 20):
                got = [fp.id for fp in footprints_in_bbox(session, *box, project_id=project_id)]
                want = list(session.scalars(
                    select(Footprint.id).join(Tile).join(Scene).where(
                        Scene.project_id == project_id, Footprint.min_lon <= box[2], Footprint.max_lon >= box[0],
                        Footprint.min_lat <= box[3], Footprint.max_lat >= box[1]).order_by(Footprint.id)))
                assert got == want
    finally:
        with transaction() as session:
            session.execute(delete(Project).where(Project.name == name))
        get_engine.cache_clear()


def test_upgrade_fills_the_rtree_from_existing_footprints(tmp_path):
    """A database made before migration 0003, with footprints in it, gets an R*Tree holding every one of them."""
    from alembic import command
    from sqlalchemy import create_engine

    from db.migrate import alembic_config, upgrade_to_head

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    rng = np.random.default_rng(11)
    with _session(engine) as session, session.begin():
        _seed(session, "old", rng, count=120)
    upgrade_to_head(engine)
    with _session(engine) as session:
        assert has_rtree(session) and _rtree_count(session) == 120
        assert _assert_same_rows(session, _boxes(rng, 20)) > 0
    engine.dispose()


def _session(engine):
    from sqlalchemy.orm import Session

    return Session(bind=engine)


def test_a_process_that_loads_tensorflow_first_keeps_the_rtree(tmp_path):
    """The CLI and worker may load the model before they open the database; TensorFlow's own SQLite has no R*Tree,
    so without the early ``sqlite3`` import new databases lacked the index and footprint writes failed."""
    import subprocess
    import sys

    script = (
        "import cli.main, worker.main\n"
        "import tensorflow\n"
        "from sqlalchemy import text\n"
        "from db.session import get_engine\n"
        f"engine = get_engine('sqlite:///{tmp_path / 'tf-first.db'}')\n"
        "with engine.begin() as c:\n"
        f"    print(c.execute(text(\"SELECT count(*) FROM sqlite_master WHERE name = '{RTREE_TABLE}'\")).scalar())\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "1"
