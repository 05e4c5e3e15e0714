"""Download a file once, verify it by SHA-256, and never leave a bad copy in the cache.

A cache that keeps whatever the network gave it (an HTML error page, half a file) poisons
every later run. ``fetch`` therefore streams into a temporary file in the destination's
folder, hashes while it writes, and moves the file into place only when size and hash
match; a cached file is hashed again before each use::

    url --stream+sha256--> dest/.name.XXXX.part --fsync, check--> os.replace --> dest/name
                                     |
                                     +-- any failure: deleted, DownloadError(url, expected, got)
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from rnnlab._fs import fsync_dir
from rnnlab.errors import ConfigError, DownloadError

__all__ = ["cache_dir", "fetch", "sha256_file"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SCHEMES = ("https", "http", "file")

Progress = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` after each chunk."""


def cache_dir() -> Path:
    """Return the folder where rnnlab keeps downloaded data (not created here).

    ``$RNNLAB_DATA`` if set, else ``$XDG_CACHE_HOME/rnnlab``, else ``~/.cache/rnnlab``.

    Returns:
        An absolute ``Path``.

    Example:
        >>> cache_dir()  # doctest: +SKIP
        PosixPath('/home/me/.cache/rnnlab')
    """
    env = os.environ.get("RNNLAB_DATA")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "rnnlab").resolve()


def sha256_file(path: str | os.PathLike) -> str:
    """Return the SHA-256 of a file's bytes as 64 lowercase hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _check_args(url: str, sha256: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise ConfigError(f"url={url!r} has scheme {scheme!r}; allowed: {', '.join(_SCHEMES)}")
    digest = sha256.lower()
    if not _HEX64.match(digest):
        raise ConfigError(f"sha256={sha256!r} is not 64 hexadecimal digits")
    return digest


def _looks_like_html(head: bytes, content_type: str) -> bool:
    start = head.lstrip()[:15].lower()
    return content_type.startswith("text/html") or start.startswith((b"<!doctype", b"<html"))


def _download(url: str, tmp, timeout: float, progress: Progress | None) -> tuple[str, int]:
    """Stream ``url`` into the open file ``tmp``; return (sha256 hex, byte count)."""
    request = urllib.request.Request(url, headers={"User-Agent": "rnnlab"})
    h = hashlib.sha256()
    done = 0
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        content_type = (resp.headers.get("Content-Type") or "").lower()
        head = b""
        while chunk := resp.read(_CHUNK):
            if not head:
                head = chunk[:64]
            h.update(chunk)
            tmp.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if _looks_like_html(head, content_type):
        raise DownloadError(
            f"download of {url} returned an HTML page ({content_type or 'no Content-Type'}, "
            f"{done} bytes) instead of the file"
        )
    if total is not None and done != total:
        raise DownloadError(
            f"download of {url} was cut short: expected {total} bytes, got {done} bytes"
        )
    return h.hexdigest(), done


def fetch(
    url: str,
    dest_path: str | os.PathLike,
    *,
    sha256: str,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> Path:
    """Download ``url`` to ``dest_path`` unless a copy with the right SHA-256 is already there.

    An existing file is hashed first; if its hash is wrong it is deleted and downloaded
    again. The download streams into a temporary file beside ``dest_path``, is hashed on
    the way, flushed to disk and renamed into place only if it is complete and its hash
    matches. On any failure (HTTP error, timeout, dropped connection, truncated body, an
    HTML page, wrong hash) nothing is left at ``dest_path``.

    Args:
        url: an https, http or file URL.
        dest_path: where the verified file ends up; missing folders are created.
        sha256: the expected SHA-256 as 64 hex digits.
        timeout: seconds to wait for the server on each network operation.
        progress: optional ``progress(bytes_done, bytes_total_or_None)`` hook, for a bar.

    Returns:
        ``dest_path`` as a ``Path``.

    Raises:
        DownloadError: the download failed or did not verify; names the URL, what was
            expected and what was received.
        ConfigError: ``url`` has an unsupported scheme or ``sha256`` is malformed.

    Example:
        >>> fetch("https://example.org/data.gz", cache_dir() / "data.gz",
        ...       sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
        ... # doctest: +SKIP
    """
    digest = _check_args(url, sha256)
    dest = Path(dest_path)
    if dest.exists():
        got = sha256_file(dest)
        if got == digest:
            logger.debug("using cached %s (sha256 verified)", dest)
            return dest
        logger.warning("cached %s has sha256 %s, expected %s; downloading again", dest, got, digest)
        dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            try:
                got, size = _download(url, tmp, timeout, progress)
            except urllib.error.HTTPError as e:
                e.close()  # it holds the open response
                raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
            except urllib.error.URLError as e:
                raise DownloadError(f"download of {url} failed: {e.reason}") from e
            except (TimeoutError, http.client.HTTPException, ConnectionError) as e:
                # IncompleteRead: the server closed before sending Content-Length bytes.
                raise DownloadError(
                    f"download of {url} failed (connection dropped or timed out): {e!r}"
                ) from e
            if got != digest:
                raise DownloadError(
                    f"download of {url} did not verify: expected sha256 {digest}, "
                    f"got {got} ({size} bytes)"
                )
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
    logger.info("downloaded %s to %s (%d bytes, sha256 verified)", url, dest, size)
    return dest
