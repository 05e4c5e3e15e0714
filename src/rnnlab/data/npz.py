"""Sequences from a NumPy ``.npz``: padded ``x`` with ``lengths`` and ``y``.

Keys (read with ``allow_pickle=False``, so no Python object is ever unpickled):

    x              (N, T, F) numbers, or (N, T) for one channel; steps past a case's
                   length are padding and never read
    lengths        (N,) whole numbers in 1..T (optional: T for every case; trailing NaN
                   shorten a case either way)
    y              (N,) integer class ids or label strings (optional: unlabelled)
    labels         (C,) label strings (optional): the names of ids 0..C-1 when y holds
                   ids, else the allowed labels in order
    feature_names  (F,) strings (optional; default dim_0..dim_{F-1})
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnlab._fs import atomic_write_bytes
from rnnlab.data.sequence_set import SequenceSet, check_missing_policy, clean_case, label_ids
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

__all__ = ["read_npz", "write_npz"]

_KEYS = {"x", "lengths", "y", "labels", "feature_names"}
MAX_NPZ_BYTES = 16 << 30  # uncompressed: a small compressed file may unpack to any size


def _load(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):  # np.load would take any other file for a pickle
        raise DataError(f"{path}: not a readable .npz file (not a zip archive); write it with "
                        "numpy.savez")
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(info.file_size for info in z.infolist())
        if unpacked > MAX_NPZ_BYTES:
            raise DataError(f"{path}: unpacks to {unpacked} bytes, over the {MAX_NPZ_BYTES} "
                            "allowed; split it")
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except DataError:
        raise
    except ValueError as e:
        if "pickle" not in str(e):
            raise DataError(f"{path}: not a readable .npz file ({e})") from None
        raise DataError(f"{path}: holds an object (pickled) array, which rnnlab does not "
                        f"load; save plain numeric and string arrays ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if "x" not in arrays:
        raise DataError(f"{path}: no 'x' array; found {sorted(arrays)} (expected x, "
                        "lengths, y)")
    if unknown := set(arrays) - _KEYS:
        raise DataError(f"{path}: unknown arrays {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    return arrays


def _strings(a: np.ndarray, path: Path, key: str, n: int | None = None) -> list[str]:
    if a.ndim != 1 or a.dtype.kind not in "US" or (n is not None and a.size != n):
        want = f"({n},)" if n is not None else "1-D"
        raise DataError(f"{path}: {key!r} must be a {want} array of strings, got "
                        f"{a.dtype} {a.shape}")
    return [s.decode() if isinstance(s, bytes) else str(s) for s in a.tolist()]


def _lengths(arrays: dict, n: int, t: int, path: Path) -> np.ndarray:
    if "lengths" not in arrays:
        return np.full(n, t, dtype=np.int64)
    lengths = arrays["lengths"]
    if lengths.shape != (n,) or lengths.dtype.kind not in "iuf":
        raise DataError(f"{path}: 'lengths' must be ({n},) whole numbers, got "
                        f"{lengths.dtype} {lengths.shape}")
    bad = np.flatnonzero(~np.isfinite(lengths) | (lengths != np.round(lengths))
                         | (lengths < 1) | (lengths > t))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: case {i}: lengths[{i}] = {lengths[i].item()!r}; expected a whole "
                        f"number in 1..{t} (x has {t} steps)")
    return lengths.astype(np.int64)


def _raw_labels(arrays: dict, n: int, path: Path):
    """Per-case label strings (None when unlabelled) and the declared order, if any."""
    names = _strings(arrays["labels"], path, "labels") if "labels" in arrays else None
    if "y" not in arrays:
        return [None] * n, names
    y = arrays["y"]
    if y.shape != (n,):
        raise DataError(f"{path}: 'y' must have shape ({n},), got {y.shape}")
    if y.dtype.kind in "US":
        return _strings(y, path, "y", n), names
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        raise DataError(f"{path}: 'y' must hold class ids (whole numbers) or label strings, "
                        f"got {y.dtype}; rnnlab classifies, it does not regress")
    ids = y.astype(np.int64)
    if names is None:
        return [str(v) for v in ids.tolist()], None
    bad = np.flatnonzero((ids < 0) | (ids >= len(names)))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{path}: case {i}: y[{i}] = {ids[i]} is not an id into 'labels' "
                        f"(0..{len(names) - 1})")
    return [names[v] for v in ids.tolist()], names


def read_npz(
    path: str | os.PathLike,
    *,
    missing: str = "error",
    labels: Sequence[str] | None = None,
) -> SequenceSet:
    """Read padded sequences from a ``.npz`` (see the module doc for its keys).

    Args:
        path: the file.
        missing: ``"error"``, ``"drop"``, ``"interpolate"`` or ``"zero"`` for NaN inside a
            case; see ``clean_case``.
        labels: the class order to use; default the file's ``labels``, else the labels
            found, sorted (by value when they are numbers).

    Returns:
        A ``SequenceSet``; ids are the 0-based case numbers.

    Example:
        >>> data = read_npz("windows.npz", missing="interpolate")  # doctest: +SKIP
    """
    check_missing_policy(missing)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no .npz file at {path}")
    arrays = _load(path)
    x = arrays["x"]
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.dtype.kind not in "biuf" or x.shape[0] < 1 or x.shape[1] < 1:
        raise DataError(f"{path}: 'x' must be numbers of shape (N, T, F) with N, T >= 1, got "
                        f"{x.dtype} {arrays['x'].shape}")
    n, t, f = x.shape
    lengths = _lengths(arrays, n, t, path)
    names = (_strings(arrays["feature_names"], path, "feature_names", f)
             if "feature_names" in arrays else [f"dim_{c}" for c in range(f)])
    raw, declared = _raw_labels(arrays, n, path)
    wheres = [f"{path}: case {i}" for i in range(n)]
    seqs = tuple(clean_case(x[i, : lengths[i]].astype(np.float64), missing, wheres[i], names)
                 for i in range(n))
    y, order = label_ids(raw, wheres, labels=labels, declared=declared)
    return SequenceSet(seqs, y, order, tuple(names), tuple(str(i) for i in range(n)), str(path))


def write_npz(path: str | os.PathLike, data: SequenceSet) -> Path:
    """Write a ``SequenceSet`` as a ``.npz`` that ``read_npz`` reads back exactly.

    Args:
        path: the file to write (atomically).
        data: the sequences; padding is written as 0.

    Returns:
        The path written.
    """
    if not isinstance(data, SequenceSet) or not len(data):
        raise ConfigError("write_npz needs a non-empty SequenceSet")
    x, lengths = data.padded()
    arrays = {"x": x, "lengths": lengths, "feature_names": np.array(data.feature_names)}
    if data.labelled:
        arrays["y"] = data.y
        arrays["labels"] = np.array(data.labels)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())
