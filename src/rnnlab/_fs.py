"""Atomic file writes, shared by every module that writes files (runs, checkpoints, data)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
