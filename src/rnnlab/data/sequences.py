"""One entry point for a user's labelled sequences: ``read_sequences`` picks the reader.

=========================  =========================================  ====================
suffix                     layout                                      reader
=========================  =========================================  ====================
``.ts``                    UEA/UCR archive (sktime, aeon)              ``rnnlab.data.ts``
``.csv`` ``.tsv``          long table, one row per step                ``rnnlab.data.long``
``.parquet`` ``.pq``       the same, as Parquet (needs pyarrow)        ``rnnlab.data.long``
``.npz``                   padded ``x``, ``lengths``, ``y``            ``rnnlab.data.npz``
=========================  =========================================  ====================

Every reader returns a ``SequenceSet`` with the same rules for missing values
(``clean_case``) and label order (``label_ids``): a given ``labels`` order first (a
trained model's), else the file's own list (``@classLabel``, an npz's ``labels``), else
the labels found, sorted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rnnlab.data.long import read_long
from rnnlab.data.npz import read_npz
from rnnlab.data.sequence_set import SequenceSet, check_missing_policy
from rnnlab.data.ts import read_ts
from rnnlab.errors import ConfigError, DataNotFoundError

__all__ = ["SEQUENCE_SUFFIXES", "read_sequences"]

SEQUENCE_SUFFIXES = (".ts", ".csv", ".tsv", ".parquet", ".pq", ".npz")
_TABLE_ONLY = ("id_column", "time_column", "feature_columns")


def read_sequences(
    path: str | os.PathLike,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    feature_columns: Sequence[str] | str | None = None,
    label_column: str | None = "label",
    missing: str = "error",
    labels: Sequence[str] | None = None,
) -> SequenceSet:
    """Read labelled variable-length sequences from a ``.ts``, CSV, Parquet or ``.npz`` file.

    Args:
        path: the file; its suffix picks the format (see the module doc).
        id_column, time_column, feature_columns: for a long table only (see
            ``read_long``); given for another format they are an error.
        label_column: the long table's label column, or None to read no labels
            (``.ts`` and ``.npz`` files say themselves whether they hold labels).
        missing: ``"error"`` (default), ``"drop"``, ``"interpolate"`` or ``"zero"`` for a
            value missing inside a case; trailing missing values always shorten it.
        labels: the class order to use (a trained model's labels); a label outside it is
            an error.

    Returns:
        A ``SequenceSet``: per-case (T_i, F) float32 arrays, ``lengths``, ``y`` (int64,
        -1 when unlabelled), ``labels`` and ``feature_names``.

    Raises:
        DataNotFoundError: no such file. ConfigError: an unknown suffix or column, or an
        option the format does not take. DataError: a malformed file (names the line or
        case and what was expected).

    Example:
        >>> train = read_sequences("Gestures_TRAIN.ts")  # doctest: +SKIP
        >>> test = read_sequences("Gestures_TEST.ts", labels=train.labels)  # doctest: +SKIP
        >>> x, lengths = train.padded()  # doctest: +SKIP
    """
    check_missing_policy(missing)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no sequence file at {path}")
    suffix = path.suffix.lower()
    if suffix not in SEQUENCE_SUFFIXES:
        raise ConfigError(f"{path}: unknown sequence file type {suffix!r}; use one of "
                          f"{', '.join(SEQUENCE_SUFFIXES)}")
    if suffix in (".csv", ".tsv", ".parquet", ".pq"):
        return read_long(path, id_column=id_column, time_column=time_column,
                         feature_columns=feature_columns, label_column=label_column,
                         missing=missing, labels=labels)
    given = {"id_column": id_column, "time_column": time_column,
             "feature_columns": feature_columns}
    for name in _TABLE_ONLY:
        if given[name] is not None:
            raise ConfigError(f"{name}={given[name]!r} applies to a CSV or Parquet table, "
                              f"not to a {suffix} file")
    if suffix == ".ts":
        return read_ts(path, missing=missing, labels=labels)
    return read_npz(path, missing=missing, labels=labels)
