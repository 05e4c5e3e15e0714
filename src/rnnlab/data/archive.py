"""Extract .tar, .tar.gz/.bz2/.xz and .zip archives without trusting them.

Dataset archives come from the network, so a tampered one must not be able to write
outside its folder (``../x``, ``/etc/x``), plant links, create devices, or fill the disk.
``safe_extract`` checks every member's name, type and size BEFORE writing anything, then
writes the files itself (it never calls ``tarfile.extractall``), so it does not depend on
the ``filter="data"`` of a particular Python version; file modes, owners and times from the
archive are ignored. Extraction goes to a temporary folder beside ``dest_dir`` that is
renamed into place only when everything succeeded::

    parent/.imdb.tmp-XXXX/   <- members written here, checked as they are read
    parent/imdb/             <- appears only after the rename, complete or not at all
"""

from __future__ import annotations

import logging
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rnnlab._fs import fsync_dir
from rnnlab.errors import ConfigError, DataError, UnsafeArchiveError

__all__ = ["check_tar_member", "safe_extract"]

logger = logging.getLogger(__name__)

MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: far above any file of a supported dataset
MAX_TOTAL_BYTES = 8 << 30  # 8 GiB
MAX_MEMBERS = 1_000_000  # aclImdb has ~100k; a million empty files is an inode bomb

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
# What reading a damaged archive raises: gzip/bz2 give OSError, zlib and lzma their own.
_CORRUPT = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)


@dataclass(frozen=True)
class _Member:
    """One archive entry after checking: a relative POSIX name and its kind."""

    name: str  # normalised, e.g. "aclImdb/train/pos/0_9.txt"
    is_dir: bool
    size: int
    handle: object  # TarInfo or ZipInfo, used to read the bytes


def _clean_name(raw: str) -> str:
    """Return a member name as safe relative parts joined by '/', or raise."""
    if not raw or "\x00" in raw:
        raise UnsafeArchiveError(f"archive member {raw!r}: empty name or NUL byte")
    if "\\" in raw:
        raise UnsafeArchiveError(f"archive member {raw!r}: backslash in name is not allowed")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise UnsafeArchiveError(f"archive member {raw!r}: absolute path is not allowed")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {raw!r}: '..' in path is not allowed")
    if not parts:
        return ""  # the archive's root ("./"), nothing to create
    return "/".join(parts)


def check_tar_member(info: tarfile.TarInfo) -> str:
    """The member's clean name (``a/b.txt``); refuses what extraction refuses.

    Used by :func:`safe_extract` and by readers that stream a tarball without extracting
    it (``rnnlab.data.imdb.read_imdb_tarball``), so both refuse the same members.

    Raises:
        UnsafeArchiveError: an absolute or ``..`` name, a backslash or NUL in it, a link,
            a device file or FIFO, or another non-file, non-folder member.
    """
    name = _clean_name(info.name)
    if info.issym() or info.islnk():
        raise UnsafeArchiveError(
            f"archive member {info.name!r}: links are not allowed (points to {info.linkname!r})"
        )
    if info.ischr() or info.isblk() or info.isfifo():
        raise UnsafeArchiveError(
            f"archive member {info.name!r}: device files and FIFOs are not allowed"
        )
    if not (info.isdir() or info.isreg()):
        raise UnsafeArchiveError(
            f"archive member {info.name!r}: unsupported member type {info.type!r}"
        )
    return name


def _tar_members(tf: tarfile.TarFile) -> list[_Member]:
    out = []
    for info in tf.getmembers():
        name = check_tar_member(info)
        out.append(_Member(name, info.isdir(), 0 if info.isdir() else info.size, info))
    return out


def _zip_members(zf: zipfile.ZipFile) -> list[_Member]:
    out = []
    for info in zf.infolist():
        name = _clean_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(f"archive member {info.filename!r}: links are not allowed")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: type not recorded
            raise UnsafeArchiveError(
                f"archive member {info.filename!r}: device files and FIFOs are not allowed"
            )
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"archive member {info.filename!r}: encrypted")
        out.append(_Member(name, info.is_dir(), 0 if info.is_dir() else info.file_size, info))
    return out


def _open_archive(
    path: Path,
) -> tuple[tarfile.TarFile | zipfile.ZipFile, list[_Member], Callable[[_Member], IO[bytes]]]:
    """Open a tar (any compression) or zip; return it, its checked members and a byte opener."""
    with path.open("rb") as f:
        magic = f.read(4)
    archive: tarfile.TarFile | zipfile.ZipFile | None = None
    try:
        if magic in (b"PK\x03\x04", b"PK\x05\x06"):  # local header, or an empty zip
            zf = zipfile.ZipFile(path)
            archive = zf
            return zf, _zip_members(zf), lambda m: zf.open(m.handle)  # type: ignore[arg-type]
        tf = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by the caller)
        archive = tf

        def opener(m: _Member) -> IO[bytes]:
            fobj = tf.extractfile(m.handle)  # type: ignore[arg-type]
            assert fobj is not None  # only regular files reach here
            return fobj

        return tf, _tar_members(tf), opener
    except UnsafeArchiveError:
        if archive is not None:
            archive.close()
        raise
    except _CORRUPT as e:
        if archive is not None:
            archive.close()
        raise DataError(f"archive {path} is corrupt or not a tar/zip archive: {e}") from e


def _check_plan(
    members: list[_Member],
    max_member_bytes: int,
    max_total_bytes: int,
) -> None:
    total = 0
    kinds: dict[str, bool] = {}
    for m in members:
        if m.size > max_member_bytes:
            raise UnsafeArchiveError(
                f"archive member {m.name!r}: {m.size} bytes exceeds the per-member limit "
                f"of {max_member_bytes} bytes"
            )
        total += m.size
        if total > max_total_bytes:
            raise UnsafeArchiveError(
                f"archive member {m.name!r}: total size {total} bytes exceeds the limit "
                f"of {max_total_bytes} bytes"
            )
        # A name that is both a file and a folder, or a file twice, would make the
        # result depend on member order; refuse instead of silently overwriting.
        if m.name in kinds and not (m.is_dir and kinds[m.name]):
            raise UnsafeArchiveError(f"archive member {m.name!r} appears more than once")
        kinds[m.name] = m.is_dir
        parts = m.name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if kinds.get(parent) is False:
                raise UnsafeArchiveError(
                    f"archive member {m.name!r}: its parent {parent!r} is a file"
                )
            kinds.setdefault(parent, True)


def _write_member(m: _Member, fsrc: IO[bytes], target: Path, max_member_bytes: int) -> int:
    """Copy one member's bytes to ``target`` (new file), counting what is really read."""
    written = 0
    with target.open("xb") as fdst:
        while True:
            try:
                chunk = fsrc.read(_CHUNK)
            except _CORRUPT as e:
                raise DataError(f"archive member {m.name!r} is corrupt: {e}") from e
            if not chunk:
                break
            written += len(chunk)
            # Header sizes can lie (zip) or be decompression bombs; count real bytes too.
            if written > max(m.size, 0) or written > max_member_bytes:
                raise UnsafeArchiveError(
                    f"archive member {m.name!r}: holds more than its declared {m.size} bytes"
                )
            fdst.write(chunk)
    if written != m.size:
        raise DataError(
            f"archive member {m.name!r}: expected {m.size} bytes, got {written} (truncated)"
        )
    return written


def safe_extract(
    archive_path: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
    members_filter: Callable[[str], bool] | None = None,
) -> Path:
    """Extract a tar (plain, gz, bz2, xz) or zip archive to ``dest_dir``, refusing hostile members.

    Every member is checked before the first byte is written. Refused, with an
    ``UnsafeArchiveError`` naming the member: absolute names (``/abs``, ``C:x``), names
    with a ``..`` component or a backslash, ALL symbolic and hard links (even ones that
    point inside: no supported dataset needs them), device files and FIFOs, a member
    larger than ``max_member_bytes``, a running total over ``max_total_bytes``, more than
    ``max_members`` entries, a name that occurs twice or is both a file and a folder.
    Only regular files and folders are created; modes, owners and times are not copied.

    The members are written to a temporary folder in ``dest_dir``'s parent, which is
    renamed to ``dest_dir`` only after all of them were written and flushed, so a failure
    (or a crash) never leaves a half-extracted ``dest_dir``.

    Args:
        archive_path: the .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz or .zip file.
        dest_dir: the folder to create; it must not exist, or be an empty folder.
        max_member_bytes: largest allowed size of one member, in bytes.
        max_total_bytes: largest allowed sum of the extracted members' sizes.
        max_members: largest allowed number of entries in the archive.
        members_filter: called with each member's normalised relative name
            (``"aclImdb/train/pos/0_9.txt"``); only members for which it returns True are
            extracted. Every member is still checked for safety, and the size limits
            count only the extracted ones.

    Returns:
        ``dest_dir`` as a ``Path``.

    Raises:
        UnsafeArchiveError: a member that is refused (see above).
        DataError: the archive is corrupt, truncated or not a tar/zip file.
        ConfigError: ``dest_dir`` exists and is not an empty folder.

    Example:
        >>> root = safe_extract("aclImdb_v1.tar.gz", cache / "imdb")  # doctest: +SKIP
        >>> (root / "aclImdb" / "train" / "pos").is_dir()  # doctest: +SKIP
        True
    """
    archive = Path(archive_path)
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"dest_dir {str(dest)!r} already exists and is not an empty folder")

    handle, members, opener = _open_archive(archive)
    with handle:
        if len(members) > max_members:
            raise UnsafeArchiveError(
                f"archive has {len(members)} members; the limit is {max_members}"
            )
        selected = [
            m for m in members if m.name and (members_filter is None or members_filter(m.name))
        ]
        _check_plan(selected, max_member_bytes, max_total_bytes)

        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        root = os.path.realpath(tmp)
        try:
            total = 0
            for m in selected:
                target = tmp.joinpath(*m.name.split("/"))
                # Belt and braces: the name check above already rules this out.
                if not os.path.realpath(target).startswith(root + os.sep):
                    raise UnsafeArchiveError(f"archive member {m.name!r} escapes {dest}")
                if m.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with opener(m) as fsrc:
                    total += _write_member(m, fsrc, target, max_member_bytes)
            if hasattr(os, "sync"):
                # One global flush instead of an fsync per file (aclImdb has 100k files):
                # the rename below must not become visible before the file contents.
                os.sync()
            if dest.exists():
                dest.rmdir()  # empty, checked above
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    fsync_dir(dest.parent)
    logger.info(
        "extracted %d members (%d bytes) from %s to %s", len(selected), total, archive, dest
    )
    return dest
