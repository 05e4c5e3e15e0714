"""Atomic file writes and JSON files, shared by every module that writes (runs, data, ...)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError, DataError, DataNotFoundError


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename inside ``folder`` durable.

    A no-op where folders cannot be opened (Windows, some filesystems); the rename itself
    is still atomic there, only its durability across a power cut is not guaranteed.
    """
    with contextlib.suppress(OSError):
        fd = os.open(Path(folder), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(
    path: str | os.PathLike, data: bytes, *, hook: Callable[[str], None] | None = None
) -> Path:
    """Write ``data`` to ``path`` so that a crash at any moment leaves the old file or the new.

    The bytes go to a temp file in the same folder, which is flushed and fsynced, then
    renamed over ``path`` with ``os.replace``; the folder is fsynced so the rename itself
    survives a power cut. On any failure the temp file is removed and ``path`` is untouched.

    Args:
        path: the file to write; its folder must exist.
        data: the complete new contents.
        hook: called with the stage name ("before_write", "mid_write", "before_replace",
            "after_replace") as each is reached; the fault-injection tests kill the
            process there (see ``rnnlab.training.faults``).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        OSError: the write failed (disk full, permissions, ...); the message names ``path``.
    """
    path = Path(path)
    hook = hook or (lambda stage: None)
    view = memoryview(data)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp's 0600 would surprise anyone sharing runs
                os.fchmod(f.fileno(), 0o644)
            hook("before_write")
            half = len(view) // 2
            f.write(view[:half])
            f.flush()
            hook("mid_write")
            f.write(view[half:])
            f.flush()
            os.fsync(f.fileno())
        hook("before_replace")
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise OSError(e.errno, f"could not write {path}: {e.strerror or e}") from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    hook("after_replace")
    fsync_dir(path.parent)
    return path


def _json_safe(obj: Any) -> Any:
    """Replace NaN and Inf (which strict JSON cannot hold) by None, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; NaN and Inf become ``null``.

    Raises:
        ConfigError: ``obj`` holds something JSON cannot represent (the message names it).
    """
    try:
        text = json.dumps(_json_safe(obj), indent=2, allow_nan=False) + "\n"
    except TypeError as e:
        raise ConfigError(f"cannot write {path} as JSON: {e}") from e
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, with errors that name the file and the line.

    Raises:
        DataNotFoundError: the file does not exist.
        DataError: the file is not valid UTF-8 JSON.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{path} does not exist") from e
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 at byte offset {e.start}") from e
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from e
