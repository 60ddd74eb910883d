"""SQLAlchemy 2 declarative schema. Geometries are GeoJSON text in EPSG:4326 with indexed bounding-box columns.

"Model" in this project means the network, hence this module is called schema, not models.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.enums import FootprintSource, FootprintStatus, JobStatus, Role, TileState

FOOTPRINT_SOURCES = tuple(s.value for s in FootprintSource)
FOOTPRINT_STATUSES = tuple(s.value for s in FootprintStatus)
TILE_REVIEW_STATES = tuple(s.value for s in TileState)
JOB_STATUSES = tuple(s.value for s in JobStatus)
ROLES = tuple(r.value for r in Role)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scenes: Mapped[list[Scene]] = relationship(back_populates="project", cascade="all, delete-orphan")


class Scene(Base):
    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("project_id", "path", name="uq_scene_project_path"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    name: Mapped[str] = mapped_column(String(300))
    crs: Mapped[str] = mapped_column(Text)  # WKT or "EPSG:n"
    transform: Mapped[list[Any]] = mapped_column(JSON)  # affine a, b, c, d, e, f
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    band_count: Mapped[int] = mapped_column(Integer)
    dtype: Mapped[str] = mapped_column(String(20))
    nodata: Mapped[float | None] = mapped_column(Float, nullable=True)
    band_stats: Mapped[list[Any]] = mapped_column(JSON)  # per band {"min","max","p2","p98","mean"}
    pixel_size_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    project: Mapped[Project] = relationship(back_populates="scenes")
    tiles: Mapped[list[Tile]] = relationship(back_populates="scene", cascade="all, delete-orphan")


class Tile(Base):
    __tablename__ = "tiles"
    __table_args__ = (
        UniqueConstraint("scene_id", "col_off", "row_off", name="uq_tile_window"),
        Index("ix_tiles_review", "scene_id", "review_state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), index=True)
    col_off: Mapped[int] = mapped_column(Integer)
    row_off: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    nodata_fraction: Mapped[float] = mapped_column(Float, default=0.0)
    review_state: Mapped[str] = mapped_column(String(20), default=TileState.UNREVIEWED.value)
    heatmap_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    uncertainty: Mapped[float | None] = mapped_column(Float, nullable=True)
    fused_count: Mapped[int] = mapped_column(Integer, default=0)
    predicted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    prediction_views: Mapped[int | None] = mapped_column(Integer, nullable=True)  # test-time views (model/tta.py)
    scene: Mapped[Scene] = relationship(back_populates="tiles")


class Reviewer(Base):
    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A person who signs in. Only an argon2 hash of the password is stored; events keep the name after removal."""
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)  # single sign-on identity
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: signs in through SSO only
    role: Mapped[str] = mapped_column(String(20), default=Role.REVIEWER.value)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerBeat(Base):
    """One row per running worker process, refreshed by its heartbeat: workers on any host are visible."""
    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # the worker id jobs carry in Job.worker_id
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    current_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    preset: Mapped[str] = mapped_column(String(50))
    head: Mapped[str] = mapped_column(String(20))
    bands: Mapped[int] = mapped_column(Integer)
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_tiles: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Footprint(Base):
    __tablename__ = "footprints"
    __table_args__ = (
        Index("ix_footprints_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
        Index("ix_footprints_tile_status", "tile_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tile_id: Mapped[int] = mapped_column(ForeignKey("tiles.id", ondelete="CASCADE"))
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON geometry, EPSG:4326
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=FootprintStatus.PENDING.value)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    fused_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    label_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # id of the source label feature
    reviewer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    __mapper_args__ = {"version_id_col": version}


class ReviewEvent(Base):
    __tablename__ = "review_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(40), index=True)  # one user action = one group (split touches many)
    tile_id: Mapped[int] = mapped_column(ForeignKey("tiles.id", ondelete="CASCADE"), index=True)
    footprint_id: Mapped[int | None] = mapped_column(ForeignKey("footprints.id", ondelete="CASCADE"), nullable=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    geometry_before: Mapped[str | None] = mapped_column(Text, nullable=True)
    geometry_after: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_before: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status_after: Mapped[str | None] = mapped_column(String(10), nullable=True)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # db.enums.JobKind (no CHECK constraint)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)  # per-epoch metric rows
    log: Mapped[str] = mapped_column(Text, default="")
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
