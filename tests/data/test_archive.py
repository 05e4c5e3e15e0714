"""safe_extract: good archives come out whole; hostile ones are refused before any write."""

from __future__ import annotations

import contextlib
import io
import os
import re
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlab.data.archive import safe_extract
from rnnlab.errors import ConfigError, DataError, RnnlabError, UnsafeArchiveError


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _tar(path: Path, members, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_extracts_files_and_folders(tmp_path):
    d = tarfile.TarInfo("aclImdb/train")
    d.type = tarfile.DIRTYPE
    arc = _tar(
        tmp_path / "a.tar.gz",
        [
            (d, None),
            _file("aclImdb/train/pos/0_9.txt", b"great film"),
            _file("./aclImdb/README", b"readme"),
            _file("aclImdb/empty", b""),
        ],
    )
    out = safe_extract(arc, tmp_path / "out")
    assert out == tmp_path / "out"
    assert (out / "aclImdb/train/pos/0_9.txt").read_bytes() == b"great film"
    assert (out / "aclImdb/README").read_bytes() == b"readme"
    assert (out / "aclImdb/empty").read_bytes() == b""
    assert _leftovers(tmp_path) == ["a.tar.gz", "out"]  # no temp folder left behind


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz"])
def test_other_tar_compressions(tmp_path, mode):
    arc = _tar(tmp_path / "a.tar", [_file("x/y.txt", b"hi")], mode=mode)
    assert (safe_extract(arc, tmp_path / "out") / "x/y.txt").read_bytes() == b"hi"


def test_members_filter_and_existing_empty_dest(tmp_path):
    arc = _tar(tmp_path / "a.tgz", [_file("keep/a", b"1"), _file("drop/b", b"2")])
    (tmp_path / "out").mkdir()
    out = safe_extract(arc, tmp_path / "out", members_filter=lambda n: n.startswith("keep/"))
    assert (out / "keep/a").read_bytes() == b"1"
    assert not (out / "drop").exists()


def test_refuses_non_empty_dest(tmp_path):
    arc = _tar(tmp_path / "a.tgz", [_file("a", b"1")])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("keep me")
    with pytest.raises(ConfigError, match="not an empty folder"):
        safe_extract(arc, tmp_path / "out")
    assert (tmp_path / "out" / "old").read_text() == "keep me"


HOSTILE = {
    "dotdot": (_file("../x", b"pwned"), "'..'"),
    "dotdot_deep": (_file("a/../../x", b"pwned"), "'..'"),
    "absolute": (_file("/tmp/rnnlab_abs_x", b"pwned"), "absolute"),
    "drive": (_file("C:/x", b"pwned"), "absolute"),
    "backslash": (_file("..\\x", b"pwned"), "backslash"),
    "symlink_out": (_special("link", tarfile.SYMTYPE, "/etc/passwd"), "links"),
    "symlink_in": (_special("link", tarfile.SYMTYPE, "a"), "links"),
    "hardlink_out": (_special("hard", tarfile.LNKTYPE, "../../x"), "links"),
    "chardev": (_special("dev", tarfile.CHRTYPE), "device"),
    "blockdev": (_special("blk", tarfile.BLKTYPE), "device"),
    "fifo": (_special("fifo", tarfile.FIFOTYPE), "FIFO"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_refused_before_any_write(tmp_path, case):
    member, why = HOSTILE[case]
    work = tmp_path / "work"
    work.mkdir()
    # A harmless member first: it must not be written either.
    arc = _tar(tmp_path / "evil.tar.gz", [_file("good.txt", b"ok"), member])
    with pytest.raises(UnsafeArchiveError, match=re.escape(why)) as err:
        safe_extract(arc, work / "out")
    assert repr(member[0].name) in str(err.value)  # the message names the member
    assert _leftovers(work) == []
    assert not (tmp_path / "x").exists()
    assert not Path("/tmp/rnnlab_abs_x").exists()


def test_size_limits(tmp_path):
    arc = _tar(tmp_path / "big.tgz", [_file("a", b"x" * 100), _file("b", b"y" * 100)])
    with pytest.raises(UnsafeArchiveError, match=r"'a'.*per-member limit of 50"):
        safe_extract(arc, tmp_path / "o1", max_member_bytes=50)
    with pytest.raises(UnsafeArchiveError, match=r"'b'.*total size 200 bytes exceeds the limit"):
        safe_extract(arc, tmp_path / "o2", max_total_bytes=150)
    with pytest.raises(UnsafeArchiveError, match="2 members; the limit is 1"):
        safe_extract(arc, tmp_path / "o3", max_members=1)
    assert _leftovers(tmp_path) == ["big.tgz"]


def test_duplicate_and_file_folder_clash(tmp_path):
    dup = _tar(tmp_path / "dup.tgz", [_file("a", b"1"), _file("./a", b"2")])
    with pytest.raises(UnsafeArchiveError, match="more than once"):
        safe_extract(dup, tmp_path / "o1")
    clash = _tar(tmp_path / "clash.tgz", [_file("a", b"1"), _file("a/b", b"2")])
    with pytest.raises(UnsafeArchiveError, match="parent 'a' is a file"):
        safe_extract(clash, tmp_path / "o2")


def test_truncated_archive_leaves_nothing(tmp_path):
    arc = _tar(tmp_path / "a.tar", [_file("a", os.urandom(5000))], mode="w")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(arc.read_bytes()[:2048])
    with pytest.raises(DataError, match="corrupt"):
        safe_extract(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _leftovers(tmp_path) == ["a.tar", "cut.tar"]


def test_not_an_archive(tmp_path):
    bad = tmp_path / "page.tar.gz"
    bad.write_bytes(b"<!DOCTYPE html><html>404 Not Found</html>")
    with pytest.raises(DataError, match="not a tar/zip"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_good_and_hostile(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/a.txt", b"hello")
        zf.writestr("d/sub/", b"")
    out = safe_extract(good, tmp_path / "out")
    assert (out / "d/a.txt").read_bytes() == b"hello"
    assert (out / "d/sub").is_dir()

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(UnsafeArchiveError, match=re.escape("'..'")):
        safe_extract(evil, tmp_path / "o2")

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("l")
        info.external_attr = (0o120777 << 16) & 0xFFFF0000  # S_IFLNK
        zf.writestr(info, b"/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="links"):
        safe_extract(link, tmp_path / "o3")
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip", "good.zip", "link.zip", "out"]


@given(
    names=st.lists(st.text(alphabet="ab./\\:-C", min_size=1, max_size=8), min_size=1, max_size=4)
)
def test_any_member_names_stay_inside_or_are_refused(names):
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        arc = _tar(Path(tmp) / "a.tar", [_file(n, b"z") for n in names], mode="w")
        try:
            out = safe_extract(arc, work / "out")
        except (UnsafeArchiveError, DataError):
            assert _leftovers(work) == []
        else:
            written = [p for p in out.rglob("*")]
            assert all(os.path.realpath(p).startswith(os.path.realpath(out)) for p in written)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["a.tar", "work"]


@given(data=st.binary(max_size=600))
def test_random_bytes_raise_only_rnnlab_errors(data):
    with tempfile.TemporaryDirectory() as tmp:
        arc = Path(tmp) / "a.tar.gz"
        arc.write_bytes(data)
        with contextlib.suppress(RnnlabError):
            safe_extract(arc, Path(tmp) / "out")
