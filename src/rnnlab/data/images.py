"""Image-classification datasets by name: ``mnist``, ``fashion-mnist`` and the embedded ``digits``.

``load_image_dataset(name, split)`` returns ``(images, labels)``: ``uint8`` images of
shape ``(N, H, W)`` in 0..255 (white ink on black, as in MNIST) and ``int64`` labels of
shape ``(N,)``. A row-by-row classifier reads each image as H steps of W pixels.

Where the MNIST-style files are looked for, first match wins (see ``docs/data.md``)::

    data_dir argument         only this folder (or data_dir/<name>), nothing else
    $RNNLAB_DATA/<name>
    <user cache>/<name>       $XDG_CACHE_HOME/rnnlab or ~/.cache/rnnlab
    system folders            /usr/share/datasets/fashion-mnist (Debian) for fashion-mnist
    download                  only with download=True, into data_dir or cache_dir()/<name>

``digits`` (the UCI 8x8 handwritten digits, 1797 images) ships inside the package and
needs nothing on disk or on the network.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from rnnlab.data.download import Progress, cache_dir, fetch
from rnnlab.data.idx import read_idx
from rnnlab.errors import DataError, DataNotFoundError, DownloadError, choice_error

__all__ = ["DATASETS", "ImageDataset", "images_from_png", "load_image_dataset"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
# split -> (images file, labels file), without the optional ".gz"
_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DIGITS_TEST_SIZE = 297  # the last 297 of 1797 images: a 1500 / 297 split


@dataclass(frozen=True)
class ImageDataset:
    """What rnnlab knows about one image dataset: classes, shape, sizes and sources.

    Args:
        name: registry name, e.g. ``"fashion-mnist"``.
        classes: class names, index = label.
        shape: ``(H, W)`` of one image.
        sizes: number of images per split, e.g. ``{"train": 60000, "test": 10000}``.
        mirrors: base URLs tried in order when downloading (empty: not downloadable).
        sha256: SHA-256 of each published ``.gz`` file, by file name.
        system_dirs: read-only folders where a distribution may have installed the files.
        source: where the data comes from, for the docs and ``--help``.
        license: the data's licence.
    """

    name: str
    classes: tuple[str, ...]
    shape: tuple[int, int]
    sizes: dict[str, int]
    mirrors: tuple[str, ...] = ()
    sha256: dict[str, str] = field(default_factory=dict)
    system_dirs: tuple[Path, ...] = ()
    source: str = ""
    license: str = ""


DATASETS: dict[str, ImageDataset] = {
    "mnist": ImageDataset(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        shape=(28, 28),
        sizes={"train": 60000, "test": 10000},
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
        source="LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/",
        license="CC BY-SA 3.0 (as stated by the torchvision/TFDS catalogues)",
    ),
    "fashion-mnist": ImageDataset(
        name="fashion-mnist",
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        shape=(28, 28),
        sizes={"train": 60000, "test": 10000},
        mirrors=(
            # The S3 website endpoint speaks plain HTTP only; the SHA-256 check is what
            # makes it safe. GitHub's copy of the same files is the HTTPS fallback.
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        sha256={
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        source="Xiao, Rasul & Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist",
        license="MIT (Zalando SE)",
    ),
    "digits": ImageDataset(
        name="digits",
        classes=tuple(str(d) for d in range(10)),
        shape=(8, 8),
        sizes={"train": 1797 - DIGITS_TEST_SIZE, "test": DIGITS_TEST_SIZE},
        source=(
            "UCI Optical Recognition of Handwritten Digits (Alpaydin & Kaynak 1998), "
            "as shipped by scikit-learn"
        ),
        license="CC BY 4.0",
    ),
}


def _info(name: str, split: str) -> ImageDataset:
    if name not in DATASETS:
        raise choice_error("dataset", name, sorted(DATASETS))
    if split not in SPLITS:
        raise choice_error("split", split, SPLITS)
    return DATASETS[name]


def _load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    ref = resources.files("rnnlab.data").joinpath("digits.npz")
    with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        pixels16, labels = npz["images"], npz["labels"]  # (1797, 8, 8) in 0..16, (1797,)
    # 0..16 counts of "on" pixels in 4x4 blocks -> 0..255 like MNIST (16 -> 255).
    images = np.rint(pixels16.astype(np.float64) * (255.0 / 16.0)).astype(np.uint8)
    cut = len(labels) - DIGITS_TEST_SIZE
    sl = slice(None, cut) if split == "train" else slice(cut, None)
    return images[sl].copy(), labels[sl].astype(np.int64)


def _find_in(folder: Path, split: str) -> tuple[Path, Path] | None:
    """Return (images, labels) paths in ``folder`` (``.gz`` or raw), or None."""
    found = []
    for base in _IDX_NAMES[split]:
        for candidate in (folder / f"{base}.gz", folder / base):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            return None
    return found[0], found[1]


def _search_dirs(info: ImageDataset, data_dir: str | os.PathLike | None) -> list[Path]:
    if data_dir is not None:
        d = Path(data_dir).expanduser()
        return [d, d / info.name]
    dirs = []
    env = os.environ.get("RNNLAB_DATA")
    if env:
        dirs.append(Path(env).expanduser() / info.name)
    xdg = os.environ.get("XDG_CACHE_HOME")
    user_cache = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "rnnlab"
    dirs.append(user_cache / info.name)
    dirs.extend(info.system_dirs)
    return list(dict.fromkeys(dirs))  # $RNNLAB_DATA may equal the cache


def _download(
    info: ImageDataset, split: str, folder: Path, progress: Progress | None
) -> tuple[Path, Path]:
    paths = []
    for base in _IDX_NAMES[split]:
        fname = f"{base}.gz"
        errors = []
        for mirror in info.mirrors:
            try:
                paths.append(
                    fetch(
                        mirror + fname, folder / fname, sha256=info.sha256[fname], progress=progress
                    )
                )
                break
            except DownloadError as e:
                logger.warning("%s", e)
                errors.append(str(e))
        else:
            raise DownloadError(
                f"could not download {fname} for {info.name} from any mirror:\n  "
                + "\n  ".join(errors)
            )
    return paths[0], paths[1]


def _not_found(info: ImageDataset, split: str, searched: list[Path]) -> DataNotFoundError:
    files = ", ".join(f"{b}.gz" for b in _IDX_NAMES[split])
    where = "\n  ".join(str(d) for d in searched)
    urls = " or ".join(info.mirrors)
    return DataNotFoundError(
        f"{info.name} ({split} split) not found. Put {files} (gzip or unpacked) in one of:\n"
        f"  {where}\n"
        f"or pass --data-dir DIR (Python: data_dir=DIR), or set $RNNLAB_DATA, or let rnnlab "
        f"download them (--download / download=True) from {urls}"
    )


def _check(info: ImageDataset, images: np.ndarray, labels: np.ndarray, where: Path) -> None:
    if images.ndim != 3 or images.shape[1:] != info.shape or images.dtype != np.uint8:
        raise DataError(
            f"{where}: expected uint8 images of shape (N, {info.shape[0]}, {info.shape[1]}), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{where}: expected {len(images)} labels (one per image), got shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(info.classes)):
        raise DataError(
            f"{where}: labels must lie in 0..{len(info.classes) - 1}, "
            f"got {labels.min()}..{labels.max()}"
        )


def load_image_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    *,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of an image-classification dataset by name.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"digits"`` (embedded, always offline).
        split: ``"train"`` or ``"test"``. ``digits`` is split 1500 / 297 (the last 297).
        data_dir: folder holding the IDX files (or holding ``<name>/`` with them); when
            given, no other place is searched and downloads go there.
        download: fetch missing files from the dataset's mirrors, checked by SHA-256;
            files already in the download folder are re-hashed and replaced if wrong.
            Without it, files found locally are checked by structure only (gzip CRC,
            IDX sizes, shape, label range): repackaged copies such as Debian's differ
            byte-wise from the published files but hold the same data.
        progress: optional ``progress(bytes_done, bytes_total)`` hook for downloads.

    Returns:
        ``(images, labels)``: images ``(N, H, W)`` uint8 in 0..255, labels ``(N,)`` int64.

    Raises:
        ConfigError: unknown name or split.
        DataNotFoundError: no files and ``download`` is False; says where to put them.
        DownloadError: every mirror failed or served a file that did not verify.
        DataError: a file is malformed or has the wrong shape or labels.

    Example:
        >>> x, y = load_image_dataset("digits", "test")
        >>> x.shape, x.dtype, y[:5].tolist()
        ((297, 8, 8), dtype('uint8'), [1, 7, 4, 6, 3])
    """
    info = _info(name, split)
    if name == "digits":
        return _load_digits(split)

    searched = _search_dirs(info, data_dir)
    found = None
    for folder in searched:
        found = _find_in(folder, split)
        if found is not None:
            logger.info("loading %s %s from %s", name, split, folder)
            break
    target = Path(data_dir).expanduser() if data_dir is not None else cache_dir() / name
    if download and info.mirrors and (found is None or found[0].parent == target):
        # fetch() re-hashes files already in the download folder and replaces bad ones.
        found = _download(info, split, target, progress)
    if found is None:
        raise _not_found(info, split, searched)

    images_path, labels_path = found
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check(info, images, labels.astype(np.int64), images_path.parent)
    return images, labels.astype(np.int64)


def images_from_png(
    paths: Sequence[str | os.PathLike],
    shape: tuple[int, int] = (28, 28),
    *,
    invert: bool | None = None,
) -> np.ndarray:
    """Read image files (PNG, or anything Pillow opens) as grayscale arrays of one shape.

    Colour images are converted to luminance, then resized to ``shape`` (box filter when
    shrinking, which matches how the 8x8 digits were made; bilinear when enlarging).
    MNIST-style data is light ink on a dark background; with ``invert=None`` an image
    whose border is mostly light (a scan of dark ink on paper) is inverted.

    Args:
        paths: image files.
        shape: ``(H, W)`` of the dataset, e.g. ``DATASETS["mnist"].shape``.
        invert: True or False to force, None to decide per image from its border.

    Returns:
        ``(N, H, W)`` uint8 array in 0..255.

    Raises:
        DataError: a file that is not a readable image (names the file).
        FileNotFoundError: a path that does not exist.

    Example:
        >>> x = images_from_png(["seven.png"], DATASETS["mnist"].shape)  # doctest: +SKIP
    """
    from PIL import Image, UnidentifiedImageError  # only ``rnnlab predict`` needs Pillow

    h, w = shape
    out = np.empty((len(paths), h, w), dtype=np.uint8)
    for i, p in enumerate(paths):
        path = Path(p)
        try:
            with Image.open(path) as img:
                gray = img.convert("L")
                if gray.size != (w, h):
                    shrink = gray.size[0] >= w and gray.size[1] >= h
                    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
                    gray = gray.resize((w, h), method)
                arr = np.asarray(gray, dtype=np.uint8)
        except FileNotFoundError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable image: {e}") from e
        border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
        flip = invert if invert is not None else bool(border.mean() > 127)
        out[i] = 255 - arr if flip else arr
    return out
