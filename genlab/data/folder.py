"""A directory of images, of any format, mode and size, decoded to square uint8 arrays.

Decoding is the slow part, so the decoded array is cached under ``<cache>/folders/`` keyed by the
directory, its files (names, sizes, modification times) and the requested size and channels.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from genlab.data.locate import cache_root
from genlab.errors import DataError, GenlabError
from genlab.files import atomic_write
from genlab.limits import ensure_fits

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
_CACHE_VERSION = "2"  # bump when decoding changes, to invalidate old caches


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive), sorted by relative path."""
    files = [p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_folder(root: Path, image_size: int, channels: int) -> tuple[np.ndarray, list[Path]]:
    """Every readable image under ``root`` as uint8 (N, channels, image_size, image_size), and
    the N files they came from (so labels can follow the images that were kept).

    Unreadable files are skipped with one warning line on stderr; none readable raises DataError.
    """
    if not root.is_dir():
        raise DataError(f"image directory {root} does not exist: check the path")
    files = list_images(root)
    if not files:
        raise DataError(f"no images ({', '.join(EXTENSIONS)}) found under {root}: point at a folder of images")
    # uint8 images plus the float32 copy the data set becomes
    ensure_fits(len(files) * channels * image_size**2 * 5, f"{len(files)} images at {image_size} x {image_size}",
                hint="choose a smaller --image-size")
    cache = _cache_path(root, files, image_size, channels)
    cached = _read_cache(cache, len(files), image_size, channels)
    if cached is None:
        images, kept = _decode_all(files, image_size, channels)
        if len(images) == 0:
            raise DataError(f"none of the {len(files)} image files under {root} could be read: they are corrupt or not images")
        _write_cache(cache, images, kept)
    else:
        images, kept = cached
    skipped = len(files) - len(images)
    if skipped:
        print(f"warning: skipped {skipped} unreadable images of {len(files)} in {root}", file=sys.stderr)
    return images, [files[i] for i in kept]


def _decode_all(files: list[Path], image_size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode in threads (Pillow releases the GIL); keep file order, drop failures. Returns the
    images and the indices of the files they came from."""
    if len(files) > 2000:
        print(f"decoding {len(files)} images (cached for next time)", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda p: _try_decode(p, image_size, channels), files))
    kept = np.array([i for i, r in enumerate(results) if r is not None], dtype=np.int64)
    if not len(kept):
        return np.zeros((0, channels, image_size, image_size), dtype=np.uint8), kept
    return np.stack([results[i] for i in kept]), kept


def _try_decode(path: Path, image_size: int, channels: int) -> np.ndarray | None:
    """decode_image, or None when the file cannot be read (any reason: never crash on one file)."""
    try:
        return decode_image(path, image_size, channels)
    except Exception:
        return None


def decode_image(path: Path, image_size: int, channels: int) -> np.ndarray:
    """One image (first frame) as uint8 (channels, image_size, image_size).

    The shorter side is resized to ``image_size`` (Lanczos) and the centre cropped; transparency
    is composited on white; 16-bit and float images are scaled to 8 bits.
    """
    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as img:
        img.draft(mode, (image_size, image_size))  # JPEG: decode at a reduced scale, >= the size asked
        img = _to_mode(img, mode)
        img = ImageOps.fit(img, (image_size, image_size), method=Image.Resampling.LANCZOS)
        arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if channels == 1 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow mode to 8-bit ``mode`` ("RGB" or "L")."""
    if img.mode.startswith(("I", "F")):  # 16/32-bit integer or float grey levels
        img = Image.fromarray(_to_uint8(np.asarray(img), img.mode), "L")
    if img.mode == "P" or img.mode.endswith(("A", "a")):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert(mode)


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale high-bit-depth grey levels to 0..255.

    "I;16*" is 16-bit (/257); "I" (32-bit) is taken as 16-bit when it goes above 255; "F" in
    [0, 1] is scaled by 255, otherwise clipped.
    """
    arr = arr.astype(np.float64)
    top = arr.max() if arr.size else 0.0
    if mode.startswith("I;16") or (mode == "I" and top > 255):
        arr = arr / 257.0
    elif mode == "F" and top <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _cache_path(root: Path, files: list[Path], image_size: int, channels: int) -> Path:
    """Cache file named by a hash of the directory, its files and the decoding settings."""
    digest = hashlib.sha256()
    digest.update(f"{_CACHE_VERSION}\0{root.resolve()}\0{image_size}\0{channels}\0".encode())
    for path in files:
        st = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return cache_root() / "folders" / f"{digest.hexdigest()[:32]}.npz"


def _read_cache(path: Path, max_n: int, image_size: int, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached images and kept-file indices if present and plausible, else None."""
    try:
        with np.load(path, allow_pickle=False) as cache:
            images, kept = cache["images"], cache["kept"]
    except Exception:
        return None
    ok = (images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (channels, image_size, image_size)
          and kept.shape == (len(images),) and 0 < len(images) <= max_n
          and bool(np.all((kept >= 0) & (kept < max_n))) and bool(np.all(np.diff(kept) > 0)))
    return (images, kept) if ok else None


def _write_cache(path: Path, images: np.ndarray, kept: np.ndarray) -> None:
    """Write the cache atomically; an unwritable cache is not an error."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would add ".npz" to a path
            np.savez(f, images=images, kept=kept)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except (OSError, GenlabError) as exc:
        print(f"warning: cannot cache decoded images in {path.parent} ({exc})", file=sys.stderr)
