"""Small filesystem helpers shared by every module that writes files atomically."""

from __future__ import annotations

import contextlib
import os
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
