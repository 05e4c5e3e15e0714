"""IDX reader and writer: hand-made bytes, exact round trips, and malformed files."""

from __future__ import annotations

import contextlib
import gzip
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnlab.data.idx import read_idx, write_idx
from rnnlab.errors import ConfigError, DataError


def _bytes(tmp_path: Path, data: bytes, name: str = "f.idx") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_reads_hand_made_ubyte_file(tmp_path):
    # MNIST labels layout: magic 0x00000801, 3 items.
    p = _bytes(tmp_path, bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 5, 0, 4]))
    out = read_idx(p)
    assert out.dtype == np.uint8
    assert out.tolist() == [5, 0, 4]
    out[0] = 9  # writable


def test_reads_big_endian_types(tmp_path):
    short = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x00, 0xFF, 0xFE])
    assert read_idx(_bytes(tmp_path, short)).tolist() == [256, -2]
    img = bytes([0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4])
    assert read_idx(_bytes(tmp_path, img, "i")).tolist() == [[[1, 2], [3, 4]]]
    one_f32 = bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0x80, 0, 0])  # 1.0f big-endian
    arr = read_idx(_bytes(tmp_path, one_f32, "f"))
    assert arr.dtype == np.float32 and arr.dtype.isnative and arr.tolist() == [1.0]


def test_gzip_is_detected_by_magic_not_name(tmp_path):
    raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 8])
    p = _bytes(tmp_path, gzip.compress(raw), "no_suffix")
    assert read_idx(p).tolist() == [[7], [8]]
    q = _bytes(tmp_path, raw, "fake.gz")
    assert read_idx(q).tolist() == [[7], [8]]


def test_writer_matches_hand_made_bytes(tmp_path):
    p = write_idx(tmp_path / "labels.idx1-ubyte", np.array([5, 0, 4], dtype=np.uint8))
    assert p.read_bytes() == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 5, 0, 4])
    q = write_idx(tmp_path / "s.idx", np.array([256, -2], dtype="<i2"))
    assert q.read_bytes() == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x00, 0xFF, 0xFE])
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []


def test_gzip_output_is_deterministic(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    b1 = write_idx(tmp_path / "a.gz", a).read_bytes()
    b2 = write_idx(tmp_path / "b.gz", a).read_bytes()
    assert b1 == b2 and b1[:2] == b"\x1f\x8b"


def test_writer_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ConfigError, match="int64 is not allowed"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


GOOD = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", "header at byte offset 0 is truncated: expected 4 bytes, got 0"),
        (b"\x00\x00\x08", "expected 4 bytes, got 3"),
        (b"\x00\x01\x08\x01" + GOOD[4:], "bad magic at byte offset 0: expected 0x00 0x00, got"),
        (b"\x00\x00\x07\x02" + GOOD[4:], "unknown dtype code 0x07 at byte offset 2"),
        (GOOD[:10], "dimensions (ndim=2) at byte offset 4 is truncated: expected 8 bytes, got 6"),
        (GOOD[:-1], "payload of 2x3 ubyte at byte offset 12 is truncated: expected 6 bytes, got 5"),
        (GOOD + b"\x00\x00", "expected 18 bytes for 2x3 ubyte, found 2 trailing bytes"),
    ],
)
def test_malformed_files(tmp_path, data, pattern):
    with pytest.raises(DataError, match=re.escape(pattern)):
        read_idx(_bytes(tmp_path, data))
    with pytest.raises(DataError, match=re.escape(pattern)):
        read_idx(_bytes(tmp_path, gzip.compress(data), "g.gz"))


def test_corrupt_gzip_and_huge_header(tmp_path):
    z = bytearray(gzip.compress(GOOD * 50))
    z[len(z) // 2] ^= 0xFF
    with pytest.raises(DataError, match="IDX file"):
        read_idx(_bytes(tmp_path, bytes(z), "c.gz"))
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(_bytes(tmp_path, gzip.compress(GOOD)[:-6], "t.gz"))
    # A header that declares 4 GiB x 4 GiB items is refused before any allocation.
    huge = bytes([0, 0, 0x0E, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    with pytest.raises(DataError, match="more than the limit"):
        read_idx(_bytes(tmp_path, huge))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


DTYPES = st.sampled_from(["u1", "i1", ">i2", "<i2", "i4", "f4", ">f8", "<f8"])


@given(
    arr=hnp.arrays(
        dtype=DTYPES,
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    gz=st.booleans(),
)
def test_round_trip_is_exact(arr, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_idx(Path(tmp) / ("a.idx.gz" if gz else "a.idx"), arr)
        back = read_idx(path)
    assert back.shape == arr.shape
    assert back.dtype == arr.dtype.newbyteorder("=")
    assert back.tobytes() == arr.astype(back.dtype).tobytes()  # bit-exact, NaNs included


@given(data=st.binary(max_size=64), gz=st.booleans())
def test_random_bytes_only_raise_data_error(data, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r"
        path.write_bytes(gzip.compress(data) if gz else data)
        try:
            out = read_idx(path)
        except DataError:
            return
    assert isinstance(out, np.ndarray)


@given(cut=st.integers(0, len(GOOD) + 3), flip=st.integers(0, len(GOOD) - 1))
def test_mutated_valid_file_reads_or_raises_data_error(cut, flip):
    data = bytearray(GOOD + b"\x01\x02\x03")[:cut]
    if flip < len(data):
        data[flip] ^= 0x5A
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m"
        path.write_bytes(bytes(data))
        with contextlib.suppress(DataError):
            read_idx(path)
