"""The aclImdb movie-review data set (Maas et al. 2011), from its folder or its tarball.

Layout (the original ``aclImdb_v1.tar.gz``)::

    aclImdb/{train,test}/{pos,neg,unsup}/<id>_<rating>.txt     (unsup: train only)

Labels are 0 for neg, 1 for pos and -1 for unsup; ratings come from the file names
(1-4 neg, 7-10 pos, 0 unsup). Reviews are sorted by (label folder, id) so every load gives
the same order.

Reference:
    Maas, A. et al. (2011). Learning word vectors for sentiment analysis. ACL.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.archive import check_tar_member
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error

__all__ = [
    "IMDB_SHA256",
    "IMDB_URL",
    "ImdbSplit",
    "download_imdb",
    "load_imdb",
    "read_imdb_tarball",
]

log = logging.getLogger(__name__)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1, "unsup": -1}
_NAME = re.compile(r"(\d+)_(\d+)\.txt")
MAX_REVIEW_BYTES = 1 << 20  # the longest real review is ~14 kB
MAX_TARBALL_MEMBERS = 200_000


@dataclass(frozen=True, eq=False)
class ImdbSplit:
    """One split of aclImdb: N reviews with labels, ratings and ids.

    Args:
        texts: N review texts (as in the files; ``<br />`` tags kept).
        labels: (N,) int64: 0 neg, 1 pos, -1 unsup.
        ratings: (N,) int64 from the file names (0 for unsup).
        ids: (N,) int64 from the file names (unique within a label folder).
    """

    texts: list[str]
    labels: np.ndarray
    ratings: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def labelled(self) -> ImdbSplit:
        """The reviews with a label (pos and neg), without unsup."""
        keep = self.labels >= 0
        return ImdbSplit([t for t, k in zip(self.texts, keep, strict=True) if k],
                         self.labels[keep], self.ratings[keep], self.ids[keep])


def _check_args(split: str, labels: tuple[str, ...]) -> None:
    if split not in SPLITS:
        raise choice_error("split", split, SPLITS)
    for lab in labels:
        if lab not in LABELS:
            raise choice_error("label", lab, tuple(LABELS))
    if not labels:
        raise ConfigError("labels must name at least one of 'neg', 'pos', 'unsup'")


def _default_labels(split: str, include_unsup: bool) -> tuple[str, ...]:
    return ("neg", "pos", "unsup") if include_unsup and split == "train" else ("neg", "pos")


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: bad UTF-8 at byte {e.start}") from e


def _build(items: list[tuple[int, int, int, str]]) -> ImdbSplit:
    # items: (label order, id, rating, text)
    items.sort(key=lambda it: (it[0], it[1]))
    order = {0: 0, 1: 1, 2: -1}
    return ImdbSplit(
        texts=[it[3] for it in items],
        labels=np.array([order[it[0]] for it in items], dtype=np.int64),
        ratings=np.array([it[2] for it in items], dtype=np.int64),
        ids=np.array([it[1] for it in items], dtype=np.int64),
    )


def _label_rank(lab: str) -> int:
    return ("neg", "pos", "unsup").index(lab)


def load_imdb(
    root: str | os.PathLike,
    split: str = "train",
    *,
    include_unsup: bool = False,
    labels: tuple[str, ...] | None = None,
) -> ImdbSplit:
    """Read one split of aclImdb from a folder or from the (unextracted) tarball.

    Args:
        root: the folder holding ``aclImdb/`` (or ``aclImdb`` itself), or a ``.tar.gz``.
        split: "train" or "test".
        include_unsup: also read ``train/unsup`` (50,000 unlabelled reviews).
        labels: folders to read, overriding ``include_unsup`` (e.g. ``("unsup",)``).

    Returns:
        ``ImdbSplit`` sorted by (neg, pos, unsup) then file id.

    Example:
        >>> train = load_imdb("data/", "train")  # doctest: +SKIP
        >>> train.texts[0][:20], train.labels[:3]  # doctest: +SKIP
    """
    labels = labels or _default_labels(split, include_unsup)
    _check_args(split, labels)
    root = Path(root)
    if root.is_file():
        return read_imdb_tarball(root, split, labels=labels)
    base = root if (root / split).is_dir() else root / "aclImdb"
    if not (base / split).is_dir():
        raise DataNotFoundError(
            f"no aclImdb/{split} under {root}; pass data_dir=DIR (a folder holding an "
            "extracted aclImdb/), tarball=FILE (aclImdb_v1.tar.gz, read without extracting) "
            "or download=True to fetch it"
        )
    items: list[tuple[int, int, int, str]] = []
    for lab in labels:
        folder = base / split / lab
        if not folder.is_dir():
            raise DataNotFoundError(f"missing folder {folder}")
        for entry in os.scandir(folder):
            m = _NAME.fullmatch(entry.name)
            if m is None or not entry.is_file(follow_symlinks=False):
                continue
            with open(entry.path, "rb") as f:
                raw = f.read(MAX_REVIEW_BYTES + 1)
            if len(raw) > MAX_REVIEW_BYTES:
                raise DataError(f"{entry.path}: larger than {MAX_REVIEW_BYTES} bytes")
            items.append((_label_rank(lab), int(m[1]), int(m[2]), _decode(raw, entry.path)))
    log.info("read %d reviews from %s/%s", len(items), base, split)
    return _build(items)


def read_imdb_tarball(
    path: str | os.PathLike,
    split: str = "train",
    *,
    labels: tuple[str, ...] = ("neg", "pos"),
) -> ImdbSplit:
    """Stream the reviews of one split straight out of ``aclImdb_v1.tar.gz``.

    Nothing is written to disk. Only regular members named
    ``aclImdb/<split>/<label>/<id>_<rating>.txt`` are read, other names are skipped; a
    member that extraction would refuse (a link, a device, an absolute or ``..`` name:
    ``rnnlab.data.archive.check_tar_member``) raises ``UnsafeArchiveError``; a member
    over ``MAX_REVIEW_BYTES`` raises ``DataError``.

    Args:
        path: the tarball (gzip, bzip2, xz or plain tar).
        split: "train" or "test".
        labels: label folders to read.

    Returns:
        ``ImdbSplit`` as ``load_imdb``.
    """
    _check_args(split, labels)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no aclImdb tarball at {path}")
    want = {f"aclImdb/{split}/{lab}": _label_rank(lab) for lab in labels}
    items: list[tuple[int, int, int, str]] = []
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:*") as tf:
            for n, member in enumerate(tf):
                if n >= MAX_TARBALL_MEMBERS:
                    raise DataError(f"{path}: more than {MAX_TARBALL_MEMBERS} members")
                name = check_tar_member(member)  # refuses what extraction refuses
                folder, _, base = name.rpartition("/")
                rank = want.get(folder)
                if rank is None or not member.isreg():
                    continue
                m = _NAME.fullmatch(base)
                if m is None:
                    continue
                if member.size > MAX_REVIEW_BYTES:
                    raise DataError(f"{path}: member {name} is {member.size} bytes, over "
                                    f"{MAX_REVIEW_BYTES}")
                if name in seen:
                    raise DataError(f"{path}: member {name} occurs twice")
                seen.add(name)
                f = tf.extractfile(member)
                assert f is not None  # regular members always have a file object
                text = _decode(f.read(), f"{path}: {name}")
                items.append((rank, int(m[1]), int(m[2]), text))
    except (tarfile.TarError, EOFError, OSError) as e:
        if isinstance(e, DataNotFoundError):
            raise
        raise DataError(f"{path}: not a readable tar archive: {e}") from e
    if not items:
        raise DataNotFoundError(f"{path} holds no aclImdb/{split}/{{{','.join(labels)}}} reviews")
    log.info("read %d reviews from %s (%s)", len(items), path, split)
    return _build(items)


def download_imdb(
    cache_dir: str | os.PathLike | None = None,
    *,
    extract: bool = False,
    url: str = IMDB_URL,
    sha256: str = IMDB_SHA256,
) -> Path:
    """Download ``aclImdb_v1.tar.gz`` (SHA-256 checked) and optionally extract it safely.

    Args:
        cache_dir: where the tarball goes (default ``rnnlab.data.download.cache_dir()``).
        extract: also extract it to ``cache_dir/aclImdb_v1/`` (links and escaping names
            refused, sizes capped).
        url: the source; the canonical Stanford URL by default.
        sha256: the expected hash of the tarball.

    Returns:
        The tarball's path, or the folder holding ``aclImdb/`` when ``extract``.
    """
    from rnnlab.data.archive import safe_extract
    from rnnlab.data.download import cache_dir as default_cache
    from rnnlab.data.download import fetch

    folder = Path(cache_dir) if cache_dir is not None else default_cache()
    tarball = fetch(url, folder / "aclImdb_v1.tar.gz", sha256=sha256)
    if not extract:
        return tarball
    dest = folder / "aclImdb_v1"
    if (dest / "aclImdb").is_dir():
        return dest
    safe_extract(tarball, dest, max_member_bytes=MAX_REVIEW_BYTES,
                 max_total_bytes=1 << 30)
    return dest
