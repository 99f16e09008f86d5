"""toonfaces: deterministic, atomic generation; tags that match the pixels; the tag frequencies."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genlab.data import toonfaces as tf

LINE = re.compile(r"^(\d+),([a-z]+) hair ([a-z]+) eyes((?:,[a-z ]+)*)$")


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _pixels(face: tf.Face) -> np.ndarray:
    return np.asarray(tf.draw_face(face), dtype=np.int32)  # (64, 64, 3)


def _changed_colour(face: tf.Face, other: tf.Face) -> np.ndarray:
    """Median RGB of the pixels of ``face`` that differ from ``other`` (what the changed tag drew),
    inside that region (its 4 neighbours changed too: no edges blended with the surroundings)."""
    a, b = _pixels(face), _pixels(other)
    changed = np.pad(np.abs(a - b).max(axis=2) > 24, 1)
    inside = changed[1:-1, 1:-1] & changed[:-2, 1:-1] & changed[2:, 1:-1] & changed[1:-1, :-2] & changed[1:-1, 2:]
    assert inside.sum() >= 6
    return np.median(a[inside], axis=0)


def _nearest(colour: np.ndarray, palette: dict) -> str:
    return min(palette, key=lambda name: np.sum((np.array(palette[name]) - colour) ** 2))


def _plain(i: int) -> tf.Face:
    """Face i of seed 0 without glasses, ribbon or blush (they overlap the eyes and hair)."""
    return replace(tf.face_of(0, i), glasses=False, ribbon=None, blush=False)


def test_same_seed_same_bytes_whatever_the_workers(tmp_path, capsys):
    one = tf.generate(tmp_path / "one", n=24, seed=0, workers=1)
    two = tf.generate(tmp_path / "two", n=24, seed=0, workers=2)
    other = tf.generate(tmp_path / "other", n=24, seed=1, workers=1)
    assert one == tmp_path / "one" and _files(one) == _files(two)
    assert _files(other)["tags.csv"] != _files(one)["tags.csv"]
    assert all(_files(other)[k] != v for k, v in _files(one).items() if k.startswith("images/"))
    err = capsys.readouterr().err
    assert "drawing 24 synthetic toonfaces (seed 0) into" in err and "drew 24 toonfaces in" in err


def test_folder_format(tmp_path):
    root = tf.generate(tmp_path / "set", n=24, seed=3, workers=1)
    lines = (root / "tags.csv").read_text().splitlines()
    assert len(lines) == 24
    extras = set(tf.HAIR_STYLES) | {f"{c} ribbon" for c in tf.RIBBON_COLOURS} | {"glasses", "smile", "blush"}
    for i, line in enumerate(lines):
        m = LINE.match(line)
        assert m and int(m[1]) == i and m[2] in tf.HAIR_COLOURS and m[3] in tf.EYE_COLOURS, line
        rest = m[4].split(",")[1:]
        assert set(rest) <= extras and sum(t in tf.HAIR_STYLES for t in rest) == 1
        assert [f"{m[2]} hair", f"{m[3]} eyes", *rest] == tf.face_of(3, i).tags()
        with Image.open(root / "images" / f"{i}.jpg") as img:
            assert img.format == "JPEG" and img.mode == "RGB" and img.size == (64, 64)
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(f"{i}.jpg" for i in range(24))
    assert json.loads((root / ".complete").read_text()) == {"version": tf.VERSION, "seed": 3, "n": 24, "size": 64}
    readme = (root / "README.txt").read_text().splitlines()
    assert len(readme) == 2 and "synthetic" in readme[0].lower() and "seed 3" in readme[1]


def test_tag_frequencies():
    faces = [tf.face_of(0, i) for i in range(2000)]
    hair, eyes, styles = (Counter(getattr(f, k) for f in faces) for k in ("hair", "eyes", "style"))
    assert set(hair) == set(tf.HAIR_COLOURS) and min(hair.values()) > 120 and max(hair.values()) < 220  # ~167
    assert set(eyes) == set(tf.EYE_COLOURS) and min(eyes.values()) > 150 and max(eyes.values()) < 250  # ~200
    assert set(styles) == set(tf.HAIR_STYLES) and min(styles.values()) > 430 and max(styles.values()) < 570
    assert len({(f.hair, f.eyes) for f in faces}) == 120
    ribbons = Counter(f.ribbon for f in faces if f.ribbon)
    assert set(ribbons) == set(tf.RIBBON_COLOURS) and abs(sum(ribbons.values()) / 2000 - 0.3) < 0.04
    for name, target in (("glasses", 0.2), ("smile", 0.5), ("blush", 0.3)):
        assert abs(np.mean([getattr(f, name) for f in faces]) - target) < 0.04, name
    assert faces[7] == tf.face_of(0, 7) != tf.face_of(1, 7)
    assert faces[7].tags()[:3] == [f"{faces[7].hair} hair", f"{faces[7].eyes} eyes", faces[7].style]


@pytest.mark.parametrize("i", [0, 1])
def test_hair_and_eye_colours_are_what_was_drawn(i):
    face = _plain(i)
    for k, hair in enumerate(tf.HAIR_COLOURS):
        other = tf.HAIR_COLOURS[(k + 5) % len(tf.HAIR_COLOURS)]
        colour = _changed_colour(replace(face, hair=hair), replace(face, hair=other))
        assert _nearest(colour, tf.HAIR_RGB) == hair, (hair, colour)
    for k, eyes in enumerate(tf.EYE_COLOURS):
        other = tf.EYE_COLOURS[(k + 5) % len(tf.EYE_COLOURS)]
        colour = _changed_colour(replace(face, eyes=eyes), replace(face, eyes=other))
        assert _nearest(colour, tf.EYE_RGB) == eyes, (eyes, colour)


def test_ribbon_colour_is_what_was_drawn():
    for k, ribbon in enumerate(tf.RIBBON_COLOURS):
        face = replace(_plain(k), hair="black" if ribbon != "white" else "blue")
        colour = _changed_colour(replace(face, ribbon=ribbon), face)
        assert _nearest(colour, tf.RIBBON_RGB) == ribbon, (ribbon, colour)


def _changed_box(a: tf.Face, b: tf.Face) -> tuple[int, int, int, int]:
    """Rows and columns (top, bottom, left, right) of the pixels that differ between a and b."""
    rows, cols = np.nonzero(np.abs(_pixels(a) - _pixels(b)).max(axis=2) > 24)
    assert len(rows) >= 6
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_glasses_smile_blush_and_styles_change_their_regions():
    face = tf.Face("brown", "blue", "short hair", None, glasses=False, smile=False, blush=False)  # centred, upright
    top, bottom, left, right = _changed_box(replace(face, glasses=True), face)
    assert 24 <= top and bottom <= 40 and left < 20 and right > 44  # across both eyes, rows ~27..38
    top, bottom, left, right = _changed_box(replace(face, smile=True), face)
    assert 38 <= top and bottom <= 50 and 24 <= left and right <= 40  # the mouth, about row 44
    top, bottom, left, right = _changed_box(replace(face, blush=True), face)
    assert 33 <= top and bottom <= 44 and left < 24 and right > 40  # both cheeks
    drawn = {style: _pixels(replace(face, style=style)) for style in tf.HAIR_STYLES}
    for a in tf.HAIR_STYLES:
        for b in tf.HAIR_STYLES:
            if a < b:
                assert (np.abs(drawn[a] - drawn[b]).max(axis=2) > 24).sum() > 150, (a, b)  # the silhouettes differ


def test_draw_face_sizes_and_variation():
    img = tf.draw_face(tf.face_of(0, 0), size=32)
    assert img.mode == "RGB" and img.size == (32, 32)
    a, b = _pixels(tf.face_of(0, 0)), _pixels(replace(tf.face_of(0, 0), tilt=-tf.face_of(0, 0).tilt, dx=0.03))
    assert np.abs(a - b).max() > 100  # the untagged variation is drawn too


def test_reuse_and_replace(tmp_path, capsys):
    tmp_path = tmp_path / "sets"  # (tmp_path also holds the fixture's home)
    root = tf.generate(tmp_path / "set", n=6, seed=0, workers=1)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    capsys.readouterr()
    assert tf.generate(root, n=6, seed=0, workers=1) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes and capsys.readouterr().err == ""
    (root / "junk.txt").write_text("stale")
    tf.generate(root, n=5, seed=0, workers=1)  # other arguments: redrawn and replaced
    assert not (root / "junk.txt").exists() and len(list((root / "images").iterdir())) == 5
    assert json.loads((root / ".complete").read_text())["n"] == 5
    (root / ".complete").unlink()  # an incomplete set is replaced too
    tf.generate(root, n=5, seed=0, workers=1)
    assert (root / ".complete").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_cache_dir_follows_genlab_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "c"))
    assert tf.cache_dir() == tmp_path / "c" / "toonfaces"


def test_interrupted_generation_leaves_the_old_set(tmp_path, monkeypatch):
    tmp_path = tmp_path / "sets"
    root = tf.generate(tmp_path / "set", n=4, seed=0, workers=1)
    before = _files(root)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"set.tmp-{dead.pid}").mkdir()  # left by a process that died

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tf, "_draw_chunk", fail)
    with pytest.raises(KeyboardInterrupt):
        tf.generate(root, n=4, seed=1, workers=1)
    assert _files(root) == before and sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    with pytest.raises(KeyboardInterrupt):
        tf.generate(tmp_path / "new", n=4, seed=1, workers=1)
    assert not (tmp_path / "new").exists()
