"""fetch against a local HTTP server: good, cached, corrupt, cut short, HTML and failing."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnnlab.data.download import cache_dir, fetch, sha256_file
from rnnlab.errors import ConfigError, DownloadError

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes, several chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
HTML = b"<!DOCTYPE html>\n<html><body>Access denied</body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int]

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, body: bytes, ctype="application/octet-stream", length=None, code=200):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/good.bin":
            self._send(PAYLOAD)
        elif self.path == "/html":
            self._send(HTML, ctype="text/html; charset=utf-8")
        elif self.path == "/html-as-octets":
            self._send(HTML)
        elif self.path == "/truncated":
            # Promise more than is sent, then hang up: a dropped connection mid-body.
            self._send(PAYLOAD[:1000], length=len(PAYLOAD))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif self.path == "/hangup":
            self.connection.shutdown(socket.SHUT_RDWR)  # no status line at all
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(1.0)
            with contextlib.suppress(OSError):  # the client gave up long ago
                self._send(PAYLOAD)
        else:
            self._send(b"not found", ctype="text/plain", code=404)


@pytest.fixture(scope="module")
def server():
    handler = type("Handler", (_Handler,), {"hits": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.hits
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_downloads_verifies_and_reports_progress(server, tmp_path):
    base, _ = server
    seen = []
    out = fetch(
        f"{base}/good.bin",
        tmp_path / "sub" / "f.bin",
        sha256=PAYLOAD_SHA,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert out.read_bytes() == PAYLOAD
    assert sha256_file(out) == PAYLOAD_SHA
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert _only(tmp_path / "sub") == ["f.bin"]  # no .part file left


def test_cached_file_is_verified_and_reused(server, tmp_path):
    base, hits = server
    dest = tmp_path / "f.bin"
    dest.write_bytes(PAYLOAD)
    before = hits.get("/good.bin", 0)
    assert fetch(f"{base}/good.bin", dest, sha256=PAYLOAD_SHA.upper()) == dest
    assert hits.get("/good.bin", 0) == before  # no request made


def test_corrupt_cached_file_is_downloaded_again(server, tmp_path, caplog):
    base, hits = server
    dest = tmp_path / "f.bin"
    dest.write_bytes(PAYLOAD[:-1] + b"\x00")  # one flipped byte
    before = hits.get("/good.bin", 0)
    with caplog.at_level(logging.WARNING, logger="rnnlab.data.download"):
        fetch(f"{base}/good.bin", dest, sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert hits["/good.bin"] == before + 1
    assert "downloading again" in caplog.text


def _fails(url: str, dest: Path, pattern: str, **kw) -> DownloadError:
    with pytest.raises(DownloadError, match=pattern) as err:
        fetch(url, dest, **{"sha256": PAYLOAD_SHA, **kw})
    assert url in str(err.value)
    assert _only(dest.parent) == []  # nothing at the final path, no temp file
    return err.value


def test_wrong_checksum(server, tmp_path):
    base, _ = server
    wrong = "0" * 64
    err = _fails(f"{base}/good.bin", tmp_path / "d" / "f.bin", "did not verify", sha256=wrong)
    assert f"expected sha256 {wrong}" in str(err)
    assert f"got {PAYLOAD_SHA} ({len(PAYLOAD)} bytes)" in str(err)


def test_truncated_connection(server, tmp_path):
    base, _ = server
    (tmp_path / "d").mkdir()
    err = _fails(f"{base}/truncated", tmp_path / "d" / "f.bin", "cut short|connection dropped")
    if "cut short" in str(err):
        assert f"expected {len(PAYLOAD)} bytes, got 1000 bytes" in str(err)


def test_server_hangs_up(server, tmp_path):
    base, _ = server
    (tmp_path / "d").mkdir()
    _fails(f"{base}/hangup", tmp_path / "d" / "f.bin", "connection dropped|failed")


@pytest.mark.parametrize("path", ["/html", "/html-as-octets"])
def test_html_error_page(server, tmp_path, path):
    base, _ = server
    (tmp_path / "d").mkdir()
    _fails(f"{base}{path}", tmp_path / "d" / "f.bin", "HTML page")


def test_http_error(server, tmp_path):
    base, _ = server
    (tmp_path / "d").mkdir()
    _fails(f"{base}/missing", tmp_path / "d" / "f.bin", "HTTP 404")


def test_timeout(server, tmp_path):
    base, _ = server
    (tmp_path / "d").mkdir()
    _fails(f"{base}/slow", tmp_path / "d" / "f.bin", "timed out", timeout=0.2)


def test_connection_refused(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "d").mkdir()
    _fails(f"http://127.0.0.1:{port}/x", tmp_path / "d" / "f.bin", "failed")


def test_corrupt_cache_and_failed_download_leave_nothing(server, tmp_path):
    base, _ = server
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.bin").write_bytes(b"stale")
    _fails(f"{base}/missing", tmp_path / "d" / "f.bin", "HTTP 404")


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="64 hexadecimal"):
        fetch("https://example.org/x", tmp_path / "x", sha256="abc")
    with pytest.raises(ConfigError, match=re.escape("scheme 'ftp'")):
        fetch("ftp://example.org/x", tmp_path / "x", sha256=PAYLOAD_SHA)


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path / "data"))
    assert cache_dir() == (tmp_path / "data").resolve()
    monkeypatch.delenv("RNNLAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == (tmp_path / "xdg" / "rnnlab").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == (tmp_path / "home" / ".cache" / "rnnlab").resolve()
