"""Image datasets by name: embedded digits, lookup order, downloads, errors, PNG input."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.idx import write_idx
from rnnlab.data.images import DATASETS, images_from_png, load_image_dataset
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, DownloadError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $RNNLAB_DATA, an empty user cache, and no system folders."""
    monkeypatch.delenv("RNNLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("mnist", "fashion-mnist"):
        monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], system_dirs=()))
    return tmp_path


def _fake_mnist(folder: Path, n: int = 5, gz: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    ext = ".gz" if gz else ""
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte{ext}", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte{ext}", labels)
    return images, labels


def test_digits_embedded_split_and_values():
    x_tr, y_tr = load_image_dataset("digits", "train")
    x_te, y_te = load_image_dataset("digits", "test")
    assert x_tr.shape == (1500, 8, 8) and x_te.shape == (297, 8, 8)
    assert x_tr.dtype == np.uint8 and y_tr.dtype == np.int64
    assert np.bincount(np.concatenate([y_tr, y_te])).tolist() == [
        178, 182, 177, 183, 181, 182, 181, 179, 174, 180,
    ]  # fmt: skip
    # First row of scikit-learn's digits.csv.gz (label 0), scaled 0..16 -> 0..255.
    first16 = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]
    expected = np.rint(np.array(first16) * 255 / 16)
    assert x_tr[0].reshape(-1)[:16].tolist() == expected.tolist()
    assert y_tr[0] == 0
    assert x_tr.max() == 255 and x_tr.min() == 0
    assert y_te[:5].tolist() == load_image_dataset("digits", "test")[1][:5].tolist()


def test_data_dir_wins_and_accepts_raw_or_name_subfolder(isolated, monkeypatch):
    env_images, _ = _fake_mnist(isolated / "env" / "mnist", seed=1)
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "env"))
    images, labels = _fake_mnist(isolated / "mine", gz=False, seed=2)
    x, y = load_image_dataset("mnist", "test", data_dir=isolated / "mine")
    assert np.array_equal(x, images) and y.tolist() == labels.tolist()
    x2, _ = load_image_dataset("mnist", "train", data_dir=isolated / "env")  # <dir>/<name>
    assert np.array_equal(x2, env_images)


def test_lookup_order_env_then_cache_then_system(isolated, monkeypatch):
    cache_images, _ = _fake_mnist(isolated / "xdg" / "rnnlab" / "fashion-mnist", seed=3)
    x, _ = load_image_dataset("fashion-mnist", "train")
    assert np.array_equal(x, cache_images)

    env_images, _ = _fake_mnist(isolated / "env" / "fashion-mnist", seed=4)
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "env"))
    x, _ = load_image_dataset("fashion-mnist", "train")
    assert np.array_equal(x, env_images)

    system_images, _ = _fake_mnist(isolated / "sys", seed=5)
    info = dataclasses.replace(DATASETS["fashion-mnist"], system_dirs=(isolated / "sys",))
    monkeypatch.setitem(DATASETS, "fashion-mnist", info)
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "empty2"))
    x, _ = load_image_dataset("fashion-mnist", "test")
    assert np.array_equal(x, system_images)


def test_not_found_says_where_to_put_which_files(isolated, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "env"))
    with pytest.raises(DataNotFoundError) as err:
        load_image_dataset("mnist", "test")
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in msg
    assert str(isolated / "env" / "mnist") in msg
    assert str(isolated / "xdg" / "rnnlab" / "mnist") in msg
    assert "--download" in msg and "ossci-datasets" in msg
    assert not (isolated / "env").exists()  # looking never creates folders


def test_bad_names(isolated):
    with pytest.raises(ConfigError, match=re.escape("dataset='cifar' is not allowed")):
        load_image_dataset("cifar", "train")
    with pytest.raises(ConfigError, match=re.escape("split='valid' is not allowed")):
        load_image_dataset("digits", "valid")


@pytest.mark.parametrize(
    ("images", "labels", "pattern"),
    [
        (np.zeros((3, 28, 27), np.uint8), np.zeros(3, np.uint8), "shape"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8), "expected 3 labels"),
        (np.zeros((3, 28, 28), np.uint8), np.array([0, 10, 1], np.uint8), "0..9"),
        (np.zeros((3, 28, 28), np.float32), np.zeros(3, np.uint8), "uint8 images"),
    ],
)
def test_wrong_content_is_data_error(isolated, images, labels, pattern):
    write_idx(isolated / "d" / "train-images-idx3-ubyte.gz", images)
    write_idx(isolated / "d" / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=pattern):
        load_image_dataset("mnist", "train", data_dir=isolated / "d")


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server serving a folder: (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _publish(root: Path) -> tuple[np.ndarray, dict[str, str]]:
    images, _ = _fake_mnist(root, n=4, seed=7)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.gz")}
    return images, sums


def test_download_from_mirror_with_fallback(isolated, monkeypatch, mirror):
    base, root = mirror
    images, sums = _publish(root)
    info = dataclasses.replace(DATASETS["mnist"], mirrors=(base + "missing/", base), sha256=sums)
    monkeypatch.setitem(DATASETS, "mnist", info)
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "env"))
    with pytest.raises(DataNotFoundError):
        load_image_dataset("mnist", "test")  # download=False never touches the network
    x, _ = load_image_dataset("mnist", "test", download=True)
    assert np.array_equal(x, images)
    got = sorted(p.name for p in (isolated / "env" / "mnist").iterdir())
    assert got == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_download_wrong_hash_leaves_nothing(isolated, monkeypatch, mirror):
    base, root = mirror
    _, sums = _publish(root)
    sums["t10k-images-idx3-ubyte.gz"] = "0" * 64
    info = dataclasses.replace(DATASETS["mnist"], mirrors=(base,), sha256=sums)
    monkeypatch.setitem(DATASETS, "mnist", info)
    target = isolated / "dl"
    with pytest.raises(DownloadError, match=r"t10k-images-idx3-ubyte\.gz.*did not verify"):
        load_image_dataset("mnist", "test", data_dir=target, download=True)
    assert not (target / "t10k-images-idx3-ubyte.gz").exists()
    assert [p.name for p in target.iterdir()] == []


def test_download_reverifies_cached_files(isolated, monkeypatch, mirror):
    base, root = mirror
    images, sums = _publish(root)
    monkeypatch.setitem(
        DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], mirrors=(base,), sha256=sums)
    )
    target = isolated / "cache"
    stale, _ = _fake_mnist(target, n=4, seed=99)  # valid IDX, but not the published bytes
    x, _ = load_image_dataset("mnist", "test", data_dir=target)
    assert np.array_equal(x, stale)  # without download: structural checks only
    x, _ = load_image_dataset("mnist", "test", data_dir=target, download=True)
    assert np.array_equal(x, images)  # re-hashed, found wrong, replaced


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian fashion-mnist not installed")
def test_real_fashion_mnist_from_debian(isolated, monkeypatch):
    monkeypatch.setitem(DATASETS, "fashion-mnist", dataclasses.replace(
        DATASETS["fashion-mnist"], system_dirs=(DEBIAN_FASHION,)
    ))  # fmt: skip
    x, y = load_image_dataset("fashion-mnist", "test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10
    assert len(DATASETS["fashion-mnist"].classes) == 10


def _png(path: Path, arr: np.ndarray, mode: str = "L") -> Path:
    from PIL import Image

    Image.fromarray(arr).convert(mode).save(path)
    return path


def test_png_exact_size_round_trip(tmp_path):
    arr = np.zeros((28, 28), np.uint8)
    arr[5:20, 10:14] = 200  # a light stroke on black, like MNIST
    out = images_from_png([_png(tmp_path / "a.png", arr)], (28, 28))
    assert out.shape == (1, 28, 28) and np.array_equal(out[0], arr)


def test_png_resize_colour_and_invert(tmp_path):
    big = np.full((56, 56), 255, np.uint8)  # dark ink on white paper
    big[10:46, 24:32] = 0
    rgb = _png(tmp_path / "rgb.png", big, "RGB")
    out = images_from_png([rgb], (28, 28))
    assert out.shape == (1, 28, 28)
    assert out[0, 0, 0] == 0 and out[0, 14, 14] == 255  # inverted: light ink on black
    kept = images_from_png([rgb], (8, 8), invert=False)
    assert kept.shape == (1, 8, 8) and kept[0, 0, 0] == 255


def test_png_errors(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"bad\.png: not a readable image"):
        images_from_png([bad])
    with pytest.raises(FileNotFoundError):
        images_from_png([tmp_path / "missing.png"])


def test_gzip_helper_matches_writer(tmp_path):
    # The fake files above are real IDX: cross-check one against gzip + raw header bytes.
    _fake_mnist(tmp_path, n=2)
    raw = gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert raw[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 2])
