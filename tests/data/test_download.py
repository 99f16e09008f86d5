"""Checksummed downloads against a local HTTP server (loopback only)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from genlab.data import download as dl
from genlab.data import load_dataset
from genlab.errors import DataError

from .conftest import closed_port, write_idx_set


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve tmp_path/served on 127.0.0.1; point $GENLAB_DATA_URL at it; stop it afterwards."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("GENLAB_DATA_URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield root
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pin(monkeypatch, root, name="mnist"):
    """Make the checksum table match the files served from ``root``."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()}
    monkeypatch.setitem(dl.SOURCES, name, dl.Source(mirrors=(), files=files))
    return files


def _cache_files(tmp_path):
    cache = tmp_path / "cache"
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_good_download_lands_in_cache_and_loads(tmp_path, server, monkeypatch):
    arrays = write_idx_set(server, n_train=5, n_test=3)
    files = _pin(monkeypatch, server)
    ds = load_dataset("mnist")
    assert ds.train.shape == (5, 1, 28, 28) and ds.test_labels.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert _cache_files(tmp_path) == sorted(f"mnist/{f}" for f in files)  # no temp files left
    for f, sha in files.items():
        assert hashlib.sha256((tmp_path / "cache" / "mnist" / f).read_bytes()).hexdigest() == sha
    # second load uses the cache: works with the server gone
    monkeypatch.setenv("GENLAB_DATA_URL", f"http://127.0.0.1:{closed_port()}/")
    assert load_dataset("mnist").train.shape == (5, 1, 28, 28)


def test_corrupt_download_leaves_nothing(tmp_path, server, monkeypatch):
    write_idx_set(server)
    _pin(monkeypatch, server)
    bad = server / "train-images-idx3-ubyte.gz"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF  # served bytes differ from the pinned checksum
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt"):
        load_dataset("mnist")
    assert not any("train-images" in f for f in _cache_files(tmp_path))
    assert not any(f.endswith(".part") for f in _cache_files(tmp_path))


def test_download_file_checksum_mismatch(tmp_path, server):
    (server / "blob").write_bytes(b"hello")
    dest = tmp_path / "cache" / "x" / "blob"
    with pytest.raises(DataError, match="SHA-256"):
        dl.download_file(f"{dl.mirrors('mnist')[0]}blob", dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []
    good = hashlib.sha256(b"hello").hexdigest()
    assert dl.download_file(f"{dl.mirrors('mnist')[0]}blob", dest, good).read_bytes() == b"hello"


def test_unreachable_server_raises(tmp_path, monkeypatch):
    monkeypatch.setitem(dl.SOURCES, "mnist", dl.Source(mirrors=(), files={"train-images-idx3-ubyte.gz": "0" * 64}))
    with pytest.raises(DataError, match="cannot download"):
        load_dataset("mnist")
    assert not any(f.endswith(".part") for f in _cache_files(tmp_path))


def test_missing_file_on_server_raises(server, monkeypatch):
    monkeypatch.setitem(dl.SOURCES, "mnist", dl.Source(mirrors=(), files={"nope.gz": "0" * 64}))
    with pytest.raises(DataError, match="404"):
        load_dataset("mnist")


def test_checksum_table_is_complete():
    for name, n in (("mnist", 4), ("fashion-mnist", 4), ("cifar10", 1)):
        files = dl.SOURCES[name].files
        assert len(files) == n
        assert all(len(sha) == 64 and int(sha, 16) >= 0 for sha in files.values())
