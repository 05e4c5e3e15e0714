"""aclImdb from a folder and from a tarball, built small in tmp_path."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from rnnlab.data.imdb import download_imdb, load_imdb, read_imdb_tarball
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, UnsafeArchiveError

FILES = {
    "train/pos/10_9.txt": "Great film.<br />Loved it",
    "train/pos/2_7.txt": "Good",
    "train/neg/5_1.txt": "Awful é",
    "train/neg/11_4.txt": "Meh",
    "train/unsup/3_0.txt": "no label",
    "test/pos/0_10.txt": "Superb",
    "test/neg/0_2.txt": "Bad",
    "train/urls_pos.txt": "http://x",
}


def _tree(root):
    for rel, text in FILES.items():
        p = root / "aclImdb" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _tarball(path, files=FILES, extra=()):
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _check_train(s):
    # sorted: neg then pos, by numeric id
    assert s.texts == ["Awful é", "Meh", "Good", "Great film.<br />Loved it"]
    np.testing.assert_array_equal(s.labels, [0, 0, 1, 1])
    np.testing.assert_array_equal(s.ratings, [1, 4, 7, 9])
    np.testing.assert_array_equal(s.ids, [5, 11, 2, 10])
    assert s.labels.dtype == np.int64


def test_folder_and_tarball_agree(tmp_path):
    _check_train(load_imdb(_tree(tmp_path / "d")))
    _check_train(load_imdb(tmp_path / "d" / "aclImdb"))
    tb = _tarball(tmp_path / "aclImdb_v1.tar.gz")
    _check_train(load_imdb(tb))
    _check_train(read_imdb_tarball(tb))
    test = load_imdb(tb, "test")
    assert test.texts == ["Bad", "Superb"] and test.ratings.tolist() == [2, 10]


def test_unsup(tmp_path):
    s = load_imdb(_tree(tmp_path), include_unsup=True)
    assert s.labels.tolist() == [0, 0, 1, 1, -1] and s.texts[-1] == "no label"
    assert len(s.labelled()) == 4
    only = read_imdb_tarball(_tarball(tmp_path / "a.tgz"), labels=("unsup",))
    assert only.texts == ["no label"] and only.ratings.tolist() == [0]


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "device", "dotdot", "absolute"])
def test_tarball_refuses_links_devices_and_escaping_names(tmp_path, kind):
    # issue 16: the streamed reader refuses what extraction refuses (it used to skip them)
    member = tarfile.TarInfo({"dotdot": "aclImdb/train/pos/../../../97_9.txt",
                              "absolute": "/aclImdb/train/pos/97_9.txt"}.get(
                                  kind, "aclImdb/train/pos/99_8.txt"))
    data = None
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        member.type, member.linkname = tarfile.LNKTYPE, "aclImdb/train/pos/1_8.txt"
    elif kind == "device":
        member.type = tarfile.CHRTYPE
    else:
        member.size, data = 1, b"x"
    tb = _tarball(tmp_path / "x.tar.gz", extra=[(member, data)])
    with pytest.raises(UnsafeArchiveError, match="archive member"):
        read_imdb_tarball(tb)
    assert not (tmp_path / "97_9.txt").exists()


def test_tarball_bad_utf8_and_corrupt(tmp_path):
    info = tarfile.TarInfo("aclImdb/train/neg/1_2.txt")
    info.size = 2
    tb = _tarball(tmp_path / "u.tar.gz", files={"train/pos/1_8.txt": "ok"},
                  extra=[(info, b"\xff\xfe")])
    with pytest.raises(DataError, match=r"neg/1_2\.txt: bad UTF-8"):
        read_imdb_tarball(tb)
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(_tarball(tmp_path / "ok.tar.gz").read_bytes()[:60])
    with pytest.raises(DataError):
        read_imdb_tarball(bad)


def test_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="aclImdb"):
        load_imdb(tmp_path)
    with pytest.raises(ConfigError, match="valid"):
        load_imdb(tmp_path, "valid")
    with pytest.raises(DataNotFoundError):
        read_imdb_tarball(tmp_path / "none.tar.gz")


def test_download_checks_hash_and_extracts_safely(tmp_path):
    tb = _tarball(tmp_path / "src.tar.gz")
    digest = hashlib.sha256(tb.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    got = download_imdb(cache, url=tb.as_uri(), sha256=digest)
    assert got == cache / "aclImdb_v1.tar.gz"
    _check_train(load_imdb(got))
    folder = download_imdb(cache, url=tb.as_uri(), sha256=digest, extract=True)
    _check_train(load_imdb(folder))
    with pytest.raises(OSError):
        download_imdb(tmp_path / "c2", url=tb.as_uri(), sha256="0" * 64)
    assert not (tmp_path / "c2" / "aclImdb_v1.tar.gz").exists()


def test_missing_folder_names_the_settings_to_pass(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"data_dir=DIR.*tarball=FILE.*download=True"):
        load_imdb(tmp_path, "train")
