"""Files the product writes appear whole or not at all.

Every output (exports, heatmaps, models, uploads, ``predict --out``) is written to a temporary name in the same
folder and renamed into place (``os.replace``, atomic on one file system), so a reader never sees half a file and
a failure leaves the old file (or none). ``check_writable`` refuses an output before any computation: an existing
file without an explicit overwrite, a folder that cannot be created or written. Any ``OSError`` becomes a one-line
``UserError`` naming the path and the cause.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from errors import UserError

TMP_PREFIX = "."
TMP_SUFFIX = ".part"


def os_error_message(path: str | Path, exc: OSError, doing: str = "write") -> str:
    """One line: which path, what went wrong (the OS's reason, without a traceback)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = exc.strerror or text
    return f"cannot {doing} '{path}' ({reason}); choose a folder you can write to, with free space"


def check_writable(path: str | Path, overwrite: bool = False, what: str = "output") -> Path:
    """``path`` as a Path when it can be written: not a folder, not an existing file unless ``overwrite``, its
    folder creatable and writable (tested by creating and removing a temporary file there). UserError otherwise."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} '{path}' is a folder; give a file name inside it")
    if path.exists() and not overwrite:
        raise UserError(f"{what} '{path}' exists; pass --force (or choose overwrite) to replace it, or another name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(os_error_message(path, exc)) from exc
    return path


@contextmanager
def atomic_path(path: str | Path, overwrite: bool = False, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path next to ``path`` to write into; on a clean exit it is renamed to ``path``, on any error it
    is removed (the old ``path``, if any, is left as it was). ``suffix`` keeps a file extension some writers need
    (e.g. ".gpkg", ".keras"); by default the target's own suffix."""
    path = check_writable(path, overwrite)
    tail = (path.suffix if suffix is None else suffix)
    try:
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX + path.stem + ".", suffix=TMP_SUFFIX + tail, dir=path.parent)
        os.close(fd)
        os.unlink(name)  # writers such as GDAL want to create the file themselves
    except OSError as exc:
        raise UserError(os_error_message(path, exc)) from exc
    tmp = Path(name)
    try:
        yield tmp
        if not tmp.exists():
            raise UserError(f"nothing was written to '{path}'; the writer produced no file")
        if path.exists() and not overwrite:
            raise UserError(f"'{path}' appeared while it was being written; nothing was replaced, try again")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(os_error_message(path, exc)) from exc
    finally:
        _remove_quietly(tmp)


@contextmanager
def atomic_text(path: str | Path, overwrite: bool = False, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """A text handle whose content becomes ``path`` only when the block ends without an error."""
    with atomic_path(path, overwrite) as tmp:
        try:
            with open(tmp, "w", encoding=encoding) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise UserError(os_error_message(path, exc)) from exc


def write_bytes(path: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path, overwrite) as tmp:
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise UserError(os_error_message(path, exc)) from exc
    return Path(path)


def write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"), overwrite)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
