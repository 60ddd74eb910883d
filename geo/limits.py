"""Limits on what users may bring, with defaults a laptop survives; each can be raised by an environment setting.

| setting | default | what it bounds |
|---|---|---|
| ``FOOTPRINTS_MAX_SCENE_PIXELS`` | 1,000,000,000 | width x height of one scene (checked before anything is read) |
| ``FOOTPRINTS_MAX_TILES`` | 20,000 | tiles one ingest may create |
| ``FOOTPRINTS_MAX_LABEL_MB`` | 64 | size of one label file |
| ``FOOTPRINTS_MAX_LABEL_FEATURES`` | 100,000 | features in one label file |
| ``FOOTPRINTS_MAX_UPLOAD_MB`` | 500 | one file uploaded through the app (also ``server.maxUploadSize``) |
| ``FOOTPRINTS_MAX_JSON_DEPTH`` | 64 | nesting of a JSON document (GeoJSON needs 6) |
| ``FOOTPRINTS_MAX_NAME_CHARS`` | 200 | project, scene and model version names |

Every check raises a one-line ``UserError`` that names the limit and the setting that raises it.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from errors import UserError

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


@dataclass(frozen=True)
class Limit:
    """One configurable limit: its environment setting, default, and unit for messages."""

    env: str
    default: float
    unit: str = ""

    def value(self) -> float:
        """The configured value (the environment setting when set, else the default); UserError when the
        setting is not a positive number."""
        text = os.environ.get(self.env)
        if text is None or not text.strip():
            return self.default
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or value <= 0:
            raise UserError(f"setting {self.env}={text!r} is not a positive number; fix or unset it")
        return value


SCENE_PIXELS = Limit("FOOTPRINTS_MAX_SCENE_PIXELS", 1_000_000_000, "pixels")
TILES = Limit("FOOTPRINTS_MAX_TILES", 20_000, "tiles")
LABEL_MB = Limit("FOOTPRINTS_MAX_LABEL_MB", 64, "MB")
LABEL_FEATURES = Limit("FOOTPRINTS_MAX_LABEL_FEATURES", 100_000, "features")
UPLOAD_MB = Limit("FOOTPRINTS_MAX_UPLOAD_MB", 500, "MB")
JSON_DEPTH = Limit("FOOTPRINTS_MAX_JSON_DEPTH", 64, "levels")
NAME_CHARS = Limit("FOOTPRINTS_MAX_NAME_CHARS", 200, "characters")
MB = 1024 * 1024


def _refuse(what: str, got: str, limit: Limit) -> UserError:
    return UserError(f"{what} ({got}) is over the limit of {limit.value():,.0f} {limit.unit}; use a smaller one "
                     f"or raise {limit.env}")


def check_scene_pixels(name: str, width: int, height: int) -> None:
    """Refuse a scene whose declared size is over ``SCENE_PIXELS`` (before any pixel or tile is made)."""
    if width * height > SCENE_PIXELS.value():
        raise _refuse(f"scene '{name}'", f"{width} x {height} px", SCENE_PIXELS)


def check_tile_count(count: int) -> None:
    """Refuse an ingest that would create more than ``TILES`` tiles."""
    if count > TILES.value():
        raise _refuse("this ingest", f"{count:,} tiles", TILES)


def check_label_file_size(name: str, size_bytes: int) -> None:
    if size_bytes > LABEL_MB.value() * MB:
        raise _refuse(f"labels '{name}'", f"{size_bytes / MB:.1f} MB", LABEL_MB)


def check_feature_count(name: str, count: int) -> None:
    if count > LABEL_FEATURES.value():
        raise _refuse(f"labels '{name}'", f"{count:,} features", LABEL_FEATURES)


def check_upload_size(name: str, size_bytes: int) -> None:
    if size_bytes > UPLOAD_MB.value() * MB:
        raise _refuse(f"upload '{name}'", f"{size_bytes / MB:.1f} MB", UPLOAD_MB)


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays / objects in a JSON text, found without parsing it (strings skipped)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    bare = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    opens = (bare == ord("[")) | (bare == ord("{"))
    brackets = bare[opens | (bare == ord("]")) | (bare == ord("}"))]
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def check_json_depth(what: str, text: str | bytes) -> None:
    """Refuse JSON nested deeper than ``JSON_DEPTH`` (deep nesting would exhaust the parser's recursion);
    ``what`` names the document in the message, e.g. "labels 'a.geojson'"."""
    depth = json_depth(text)
    if depth > JSON_DEPTH.value():
        raise _refuse(what, f"nested {depth:,} levels deep", JSON_DEPTH)


def check_name(kind: str, name: str, limit: int | None = None) -> str:
    """The stripped name; UserError when it is empty, has control characters or is longer than the limit
    (``NAME_CHARS``, or the column's ``limit`` when smaller)."""
    name = (name or "").strip()
    if not name:
        raise UserError(f"the {kind} name is empty; type a name")
    most = int(min(NAME_CHARS.value(), limit or NAME_CHARS.value()))
    if len(name) > most:
        raise UserError(f"the {kind} name is {len(name)} characters long; use at most {most}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UserError(f"the {kind} name contains control characters (line breaks, tabs); use plain text")
    return name


def all_finite(values: Iterable[float] | np.ndarray) -> bool:
    """True when every number is finite (no NaN, no infinity)."""
    return bool(np.isfinite(np.asarray(values, dtype=float)).all())
