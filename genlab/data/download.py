"""Checksummed downloads into the genlab cache.

A file is streamed to a temporary file next to its destination, its SHA-256 is checked, and only
then is it moved into place with :func:`os.replace` (atomic), so the cache never holds a
half-written or unverified file. ``$GENLAB_DATA_URL`` replaces the base URL (a mirror).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from genlab.errors import DataError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where a data set's files come from: base URLs tried in order, and file name -> SHA-256."""

    mirrors: tuple[str, ...]
    files: dict[str, str]


# Checksums are of the files as served. Sources:
#  - Fashion-MNIST: tensorflow/datasets url_checksums/fashion_mnist.txt; the same values are pinned
#    by several other projects next to the MD5s published in the official README
#    (https://github.com/zalandoresearch/fashion-mnist, train-images MD5 8d4fb7e6...).
#  - MNIST: tensorflow/datasets url_checksums/mnist.txt (the cvdf mirror), the same in other
#    projects' pins; the ossci mirror serves the same bytes (torchvision's MD5 f68b3c2d... for both).
#  - CIFAR-10: keras.datasets.cifar10 (file_hash) and torchvision.prototype's Cifar10._SHA256.
SOURCES: dict[str, Source] = {
    "mnist": Source(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion-mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
    "cifar10": Source(
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files={"cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
    ),
}

_NETWORK_ERRORS = (OSError, http.client.HTTPException, ValueError)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirrors(name: str) -> tuple[str, ...]:
    """Base URLs for ``name``: ``$GENLAB_DATA_URL`` alone when set, else the official ones."""
    env = os.environ.get("GENLAB_DATA_URL")
    return (env,) if env else SOURCES[name].mirrors


def fetch(name: str, dest: Path) -> None:
    """Download every file of the named set into ``dest``, skipping files already there and valid."""
    if name not in SOURCES:
        raise DataError(f"{name} cannot be downloaded: put its files in a directory and pass --data-dir")
    for filename, sha in SOURCES[name].files.items():
        target = dest / filename
        if target.is_file() and sha256_file(target) == sha:
            continue
        _fetch_one(filename, target, sha, mirrors(name))


def _fetch_one(filename: str, target: Path, sha: str, bases: tuple[str, ...]) -> None:
    """Try each mirror in turn; raise the last failure as DataError."""
    error: DataError | None = None
    for base in bases:
        try:
            download_file(base.rstrip("/") + "/" + filename, target, sha)
            return
        except DataError as exc:
            error = exc
    assert error is not None
    raise error


def download_file(url: str, dest: Path, sha256: str, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` if its SHA-256 is ``sha256``; nothing is left behind on failure."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(f"cannot write to the cache directory {dest.parent} ({exc}): set $GENLAB_CACHE to a writable place") from exc
    tmp = Path(tmp_name)
    try:
        print(f"downloading {url}", file=sys.stderr)
        with os.fdopen(fd, "wb") as out:
            got = _stream(url, out, timeout)
        if got != sha256:
            raise DataError(
                f"the download of {url} is corrupt (SHA-256 {got}, expected {sha256}): try again later "
                f"or set $GENLAB_DATA_URL to a mirror"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _stream(url: str, out, timeout: float) -> str:
    """Copy the body of ``url`` into ``out``; return its hex SHA-256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except _NETWORK_ERRORS as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # an HTTP error response holds an open connection
        raise DataError(
            f"cannot download {url} ({exc}): check the network, set $GENLAB_DATA_URL to a mirror, "
            f"or fetch the file yourself and pass --data-dir"
        ) from exc
    return digest.hexdigest()
