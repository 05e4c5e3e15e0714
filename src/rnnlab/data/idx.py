"""Read and write IDX files, the format of MNIST and Fashion-MNIST (raw or gzip).

Layout (all integers big-endian), from LeCun et al., http://yann.lecun.com/exdb/mnist/::

    offset 0   0x00 0x00           magic: two zero bytes
    offset 2   dtype code          0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
                                   0x0D float, 0x0E double
    offset 3   ndim                number of dimensions
    offset 4   ndim x uint32       size of each dimension
    offset 4+4*ndim                prod(dims) items, C order, big-endian

The reader checks every field and the payload size against the header and raises
``DataError`` naming the byte offset and the expected and actual sizes; it never trusts
the header to allocate memory before it knows the bytes are there.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError, DataError

__all__ = ["read_idx", "write_idx"]

# dtype code -> big-endian numpy dtype
_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_NAMES = {0x08: "ubyte", 0x09: "byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}
_GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 1 << 32  # 4 GiB of payload; MNIST's largest file holds 47 MB
_CHUNK = 1 << 20


def _read_exactly(f: BinaryIO, n: int, path: Path, offset: int, what: str) -> bytearray:
    """Read ``n`` bytes in chunks (so a lying header cannot make us allocate first)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            raise DataError(
                f"IDX file {path}: {what} at byte offset {offset} is truncated: "
                f"expected {n} bytes, got {len(buf)}"
            )
        buf += chunk
    return buf


def _parse(f: BinaryIO, path: Path, max_bytes: int) -> np.ndarray:
    head = _read_exactly(f, 4, path, 0, "header")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"IDX file {path}: bad magic at byte offset 0: expected 0x00 0x00, "
            f"got 0x{head[0]:02x} 0x{head[1]:02x}"
        )
    code, ndim = head[2], head[3]
    if code not in _CODES:
        allowed = ", ".join(f"0x{c:02X} ({n})" for c, n in _NAMES.items())
        raise DataError(
            f"IDX file {path}: unknown dtype code 0x{code:02X} at byte offset 2; "
            f"expected one of {allowed}"
        )
    dims_bytes = _read_exactly(f, 4 * ndim, path, 4, f"dimensions (ndim={ndim})")
    dims = tuple(int(d) for d in np.frombuffer(bytes(dims_bytes), dtype=">u4"))
    dtype = _CODES[code]
    offset = 4 + 4 * ndim
    nbytes = math.prod(dims) * dtype.itemsize
    shape = "x".join(map(str, dims)) or "scalar"
    if nbytes > max_bytes:
        raise DataError(
            f"IDX file {path}: header declares {shape} {_NAMES[code]} = {nbytes} bytes, "
            f"more than the limit of {max_bytes} bytes"
        )
    payload = _read_exactly(f, nbytes, path, offset, f"payload of {shape} {_NAMES[code]}")
    extra = f.read(_CHUNK)
    if extra:
        # Count the rest for the message, but stop early: the tail may be a gzip bomb.
        more = len(extra)
        while more <= 64 * _CHUNK and (chunk := f.read(_CHUNK)):
            more += len(chunk)
        count = f"{more}" if more <= 64 * _CHUNK else f"more than {64 * _CHUNK}"
        raise DataError(
            f"IDX file {path}: expected {offset + nbytes} bytes for {shape} {_NAMES[code]}, "
            f"found {count} trailing bytes after byte offset {offset + nbytes}"
        )
    # bytearray keeps the array writable without a second copy for ubyte data.
    arr = np.frombuffer(payload, dtype=dtype).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed, told apart by its first bytes).

    Args:
        path: the file, for example ``train-images-idx3-ubyte.gz``.
        max_bytes: refuse a header that declares a larger payload (guards gzip bombs).

    Returns:
        An array of the header's shape, e.g. ``(60000, 28, 28)`` uint8 for MNIST images
        or ``(60000,)`` for labels, in native byte order (writable).

    Raises:
        DataError: bad magic, unknown dtype code, truncated header or payload, trailing
            bytes, or a corrupt gzip stream; the message names the byte offset and the
            expected and actual sizes.
        FileNotFoundError: the file does not exist.

    Example:
        >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
        ... # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((10000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    with path.open("rb") as raw:
        if raw.read(2) != _GZIP_MAGIC:
            raw.seek(0)
            return _parse(raw, path, max_bytes)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse(f, path, max_bytes)
        except (OSError, EOFError, zlib.error) as e:
            # BadGzipFile is an OSError; EOFError means the gzip stream itself was cut.
            raise DataError(f"IDX file {path}: corrupt gzip stream: {e}") from e


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The file is written atomically: temp file in the same folder, fsync, rename.

    Args:
        array: any shape (each dimension < 2**32, at most 255 of them) with dtype uint8,
            int8, int16, int32, float32 or float64.
        path: destination file.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ConfigError: a dtype or shape that IDX cannot hold.

    Example:
        >>> write_idx(tmp / "labels.idx1-ubyte", np.array([5, 0, 4], dtype=np.uint8))
        ... # doctest: +SKIP
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in _CODES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ConfigError(
            f"write_idx: dtype {array.dtype} is not allowed; choose one of: "
            "uint8, int8, int16, int32, float32, float64"
        )
    if array.ndim > 255 or any(d >= 1 << 32 for d in array.shape):
        raise ConfigError(
            f"write_idx: shape {array.shape} does not fit IDX (ndim<=255, dims<2**32)"
        )
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=_CODES[code]).tobytes()

    path.parent.mkdir(parents=True, exist_ok=True)
    data = header + body
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime=0: the same array, the same bytes
    return atomic_write_bytes(path, data)
