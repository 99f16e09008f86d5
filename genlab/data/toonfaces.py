"""toonfaces: an offline, synthetic, tagged set of anime-style faces that genlab draws itself.

It stands in for the course's anime-faces set (64 x 64 faces tagged "<colour> hair <colour> eyes")
where no anime data can be downloaded: tag-conditioned GANs, a tag classifier and latent attribute
directions all need a tagged face set. Tags: hair colour (12), eye colour (10), hair style (4),
an optional "<colour> ribbon", "glasses", "smile", "blush". Untagged: position, size, tilt, skin
tone, background, clothes and small drawing details.

Each face is drawn from polygons at 3x its size (one affine map gives position, scale and tilt)
and Lanczos-downsampled. Face i depends only on (seed, i): :func:`face_of`.
"""

from __future__ import annotations

import colorsys
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from genlab.data.locate import cache_root
from genlab.errors import DataError

HAIR_COLOURS = ("orange", "white", "aqua", "gray", "green", "red", "purple", "pink", "blue", "black", "brown", "blonde")
EYE_COLOURS = ("black", "orange", "pink", "yellow", "aqua", "purple", "green", "brown", "red", "blue")
HAIR_STYLES = ("long hair", "short hair", "twintails", "ponytail")
RIBBON_COLOURS = ("red", "blue", "yellow", "green", "pink", "white")
DEFAULT_N = 20_000
VERSION = "1"  # bump when drawing changes

HAIR_RGB = {
    "orange": (242, 132, 30), "white": (244, 244, 248), "aqua": (64, 218, 214), "gray": (128, 128, 136),
    "green": (52, 168, 64), "red": (214, 34, 42), "purple": (128, 62, 190), "pink": (252, 146, 196),
    "blue": (42, 84, 218), "black": (34, 32, 40), "brown": (118, 72, 36), "blonde": (248, 222, 104),
}
EYE_RGB = {
    "black": (30, 28, 34), "orange": (246, 128, 24), "pink": (246, 104, 170), "yellow": (242, 210, 30),
    "aqua": (40, 210, 214), "purple": (136, 56, 204), "green": (36, 172, 56), "brown": (128, 72, 30),
    "red": (212, 24, 32), "blue": (36, 78, 224),
}
RIBBON_RGB = {
    "red": (226, 30, 48), "blue": (40, 92, 230), "yellow": (250, 216, 36), "green": (44, 180, 64),
    "pink": (250, 136, 190), "white": (252, 252, 252),
}
_SKINS = np.array([(255, 238, 226), (252, 222, 200), (240, 198, 168), (214, 162, 124), (172, 120, 88)], float)
_FRAMES = ((36, 34, 42), (120, 30, 40), (36, 50, 112), (96, 64, 40))  # glasses frames
_SS = 3  # drawn at 3x the output size, then downsampled
_ZOOM = 1.1  # units -> image widths at scale 1 (the head fills the frame, as in the anime set)
_CHUNK = 500  # faces a worker task
_JPEG = dict(quality=95, subsampling=0, optimize=False, progressive=False)  # pinned; 4:4:4 keeps small irises' colour

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Face:
    """Everything that decides one picture: the tags, then the untagged variation."""

    hair: str
    eyes: str
    style: str
    ribbon: str | None
    glasses: bool
    smile: bool
    blush: bool
    dx: float = 0.0  # shift, in image widths
    dy: float = 0.0
    scale: float = 1.0
    tilt: float = 0.0  # degrees
    skin: RGB = (252, 222, 200)
    bg_top: RGB = (200, 200, 210)
    bg_bottom: RGB = (170, 170, 185)
    clothes: RGB = (70, 80, 110)
    hair_tone: float = 0.0  # -: darker, +: lighter
    eye_tone: float = 0.0
    side: int = 1  # +1 / -1: where a single ribbon or the ponytail goes
    strands: int = 6  # strands in the fringe
    eye_open: float = 1.0  # eye height factor
    mouth: int = 0  # mouth variant
    frame: int = 0  # glasses frame colour, index into _FRAMES

    def tags(self) -> list[str]:
        """e.g. ["red hair", "blue eyes", "twintails", "yellow ribbon", "glasses", "smile", "blush"]."""
        out = [f"{self.hair} hair", f"{self.eyes} eyes", self.style] + ([f"{self.ribbon} ribbon"] if self.ribbon else [])
        flags = (("glasses", self.glasses), ("smile", self.smile), ("blush", self.blush))
        return out + [name for name, on in flags if on]


def random_face(rng: np.random.Generator) -> Face:
    """Tags uniform and independent: ribbon 30 % (colour uniform), glasses 20 %, smile 50 %, blush 30 %."""
    hair, eyes, style = (int(rng.integers(k)) for k in (len(HAIR_COLOURS), len(EYE_COLOURS), len(HAIR_STYLES)))
    has_ribbon, ribbon, glasses, smile, blush = rng.random(), int(rng.integers(len(RIBBON_COLOURS))), *rng.random(3)
    return Face(
        hair=HAIR_COLOURS[hair], eyes=EYE_COLOURS[eyes], style=HAIR_STYLES[style],
        ribbon=RIBBON_COLOURS[ribbon] if has_ribbon < 0.3 else None,
        glasses=bool(glasses < 0.2), smile=bool(smile < 0.5), blush=bool(blush < 0.3),
        dx=float(rng.uniform(-0.05, 0.05)), dy=float(rng.uniform(-0.04, 0.05)),
        scale=float(rng.uniform(0.85, 1.1)), tilt=float(rng.uniform(-12, 12)),
        skin=_skin(float(rng.random())), bg_top=_muted(rng), bg_bottom=_muted(rng), clothes=_muted(rng, 0.2, 0.6),
        hair_tone=float(rng.uniform(-0.07, 0.07)), eye_tone=float(rng.uniform(-0.06, 0.06)),
        side=int(rng.choice((-1, 1))), strands=int(rng.integers(5, 8)), eye_open=float(rng.uniform(0.85, 1.1)),
        mouth=int(rng.integers(2)), frame=int(rng.integers(len(_FRAMES))),
    )


def face_of(seed: int, index: int) -> Face:
    """Face ``index`` of the set drawn from ``seed``: depends on nothing else."""
    return random_face(np.random.default_rng([seed, index]))


def _skin(t: float) -> RGB:
    """Light (t = 0) to darker (t = 1) skin, interpolated along _SKINS."""
    pos = t * (len(_SKINS) - 1)
    i = min(int(pos), len(_SKINS) - 2)
    return _rgb(_SKINS[i] + (pos - i) * (_SKINS[i + 1] - _SKINS[i]))


def _muted(rng: np.random.Generator, lo: float = 0.45, hi: float = 0.95) -> RGB:
    """A desaturated colour of random hue (backgrounds, clothes): never confusable with a hair colour."""
    h, s, v = rng.random(), rng.uniform(0.05, 0.3), rng.uniform(lo, hi)
    return _rgb(255 * np.array(colorsys.hsv_to_rgb(h, s, v)))


def _rgb(c) -> RGB:
    return tuple(int(round(min(max(x, 0.0), 255.0))) for x in c)


def _shade(c, f: float) -> RGB:
    """f < 1: darker (scaled); f > 1: lighter (towards white by f - 1)."""
    c = np.asarray(c, float)
    return _rgb(c * f if f <= 1 else c + (255 - c) * (f - 1))


# ---- drawing: coordinates are "units", the canonical face in a 1 x 1 frame, y down ----

def _ellipse(cx: float, cy: float, rx: float, ry: float, a0: float = 0, a1: float = 360, n: int = 28) -> np.ndarray:
    """(n, 2) points on an ellipse from angle a0 to a1 (degrees; 90 = down)."""
    t = np.deg2rad(np.linspace(a0, a1, n, endpoint=(a1 - a0) % 360 != 0))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _bezier(p0, p1, p2, n: int = 8) -> np.ndarray:
    """(n, 2) points on the quadratic Bezier curve p0 -> p2 pulled towards p1."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2


def _smooth(pts, rounds: int = 2) -> np.ndarray:
    """Chaikin corner cutting of a closed polygon (n, 2) -> (n * 2**rounds, 2)."""
    p = np.asarray(pts, float)
    for _ in range(rounds):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return p


def _mirror(pts) -> np.ndarray:
    """Left-right mirror about x = 0.5, order reversed (so outlines stay one-way round)."""
    p = np.asarray(pts, float)[::-1].copy()
    p[:, 0] = 1 - p[:, 0]
    return p


class _Pen:
    """Draws in units on an RGB image of px x px pixels, through the face's tilt, scale and shift."""

    def __init__(self, img: Image.Image, face: Face):
        px = img.size[0]
        a = np.deg2rad(face.tilt)
        self.draw = ImageDraw.Draw(img, "RGBA")  # RGBA fills blend onto the RGB image
        self.unit = px * face.scale * _ZOOM
        self.m = self.unit * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        self.o = px * np.array([0.5 + face.dx, 0.5 + face.dy])

    def xy(self, pts) -> list[float]:
        return ((np.asarray(pts, float) - 0.5) @ self.m + self.o).ravel().tolist()

    def width(self, w: float) -> int:
        return max(1, int(round(w * self.unit)))

    def poly(self, pts, fill, outline=None, width: float = 0.012) -> None:
        self.draw.polygon(self.xy(pts), fill=fill, outline=outline, width=self.width(width) if outline else 1)

    def line(self, pts, fill, width: float) -> None:
        self.draw.line(self.xy(pts), fill=fill, width=self.width(width), joint="curve")


def draw_face(face: Face, size: int = 64) -> Image.Image:
    """The face as an RGB size x size image (drawn at 3x, Lanczos-downsampled)."""
    px = _SS * size
    img = _background(face, px)
    pen = _Pen(img, face)
    hair = _shade(HAIR_RGB[face.hair], 1 + face.hair_tone)
    _back_hair(pen, face, hair)
    _body(pen, face)
    _head(pen, face)
    _eyes(pen, face, hair)
    _mouth(pen, face)
    if face.blush:
        _blush(pen)
    if face.glasses:
        _glasses(pen, face)
    _fringe(pen, face, hair)
    _ties(pen, face, hair)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def _background(face: Face, px: int) -> Image.Image:
    """A vertical gradient from bg_top to bg_bottom (equal colours: flat)."""
    t = np.linspace(0, 1, px)[:, None]
    rows = (1 - t) * np.array(face.bg_top, float) + t * np.array(face.bg_bottom, float)  # (px, 3)
    arr = np.broadcast_to(np.rint(rows).astype(np.uint8)[:, None, :], (px, px, 3))
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


_CAP = dict(cx=0.5, cy=0.41, rx=0.29, ry=0.29)  # the hair's outline over the skull


def _back_hair(pen: _Pen, face: Face, hair: RGB) -> None:
    """The hair behind the head: its length and the tails give the style's silhouette."""
    back, line = _shade(hair, 0.86), _shade(hair, 0.5)
    cap = _ellipse(**_CAP, a0=180, a1=360, n=20)
    if face.style == "long hair":
        right = [(0.79, 0.5), (0.81, 0.7), (0.84, 0.9), (0.86, 1.02)]
        tips = [(0.74, 0.97), (0.66, 1.03), (0.6, 0.98), (0.5, 1.04), (0.4, 0.98), (0.34, 1.03), (0.26, 0.97)]
    else:
        right = [(0.785, 0.5), (0.78, 0.6), (0.76, 0.66)]
        tips = [(0.72, 0.6), (0.68, 0.66), (0.5, 0.6), (0.32, 0.66), (0.28, 0.6)]
    left = _mirror(right)
    outline = np.concatenate([cap, right, tips, left])
    for sign in {"twintails": (1, -1), "ponytail": (face.side,)}.get(face.style, ()):
        pen.poly(_tail(sign, twin=face.style == "twintails"), hair, line)  # lit like the front hair
    pen.poly(outline, back, line)


def _tail(sign: int, twin: bool) -> np.ndarray:
    """A twintail (hanging from the side of the head) or a side ponytail (tied high), on side ``sign``."""
    if twin:
        pts = [(0.25, 0.2), (0.36, 0.24), (0.43, 0.4), (0.44, 0.62), (0.4, 0.84), (0.37, 0.94),
               (0.33, 0.82), (0.3, 0.6), (0.25, 0.36), (0.22, 0.26)]
    else:
        pts = [(0.18, 0.1), (0.32, 0.08), (0.42, 0.22), (0.44, 0.44), (0.41, 0.66), (0.36, 0.84),
               (0.32, 0.64), (0.3, 0.42), (0.24, 0.22), (0.14, 0.16)]
    p = _smooth(pts)
    return np.stack([0.5 + sign * p[:, 0], p[:, 1]], axis=1)


def _body(pen: _Pen, face: Face) -> None:
    """Neck and shoulders (clothes with a V collar)."""
    neck = _shade(face.skin, 0.86)
    cloth, dark = face.clothes, _shade(face.clothes, 0.55)
    pen.poly([(0.44, 0.66), (0.56, 0.66), (0.57, 0.88), (0.43, 0.88)], neck, _shade(face.skin, 0.6), 0.008)
    shoulders = _smooth([(0.08, 1.1), (0.14, 0.88), (0.3, 0.82), (0.43, 0.81), (0.5, 0.9), (0.57, 0.81),
                         (0.7, 0.82), (0.86, 0.88), (0.92, 1.1)], 1)
    pen.poly(shoulders, cloth, dark)


def _head(pen: _Pen, face: Face) -> None:
    """The face: a round top and cheeks that narrow to a pointed chin; ears at the sides."""
    line = _shade(face.skin, 0.62)
    for sign in (1, -1):
        pen.poly(_ellipse(0.5 + sign * 0.225, 0.52, 0.028, 0.045), face.skin, line, 0.008)
    top = _ellipse(0.5, 0.47, 0.225, 0.3, 180, 360, 18)
    cheek = _bezier((0.725, 0.47), (0.72, 0.66), (0.5, 0.77), 10)
    pen.poly(np.concatenate([top, cheek[:-1], _mirror(cheek)]), face.skin, line, 0.008)


_EYE_Y, _EYE_DX = 0.51, 0.105


def _eyes(pen: _Pen, face: Face, hair: RGB) -> None:
    """Big anime eyes: white, iris (darker top, pupil, light bottom), two highlights, a thick upper lash."""
    iris = _shade(EYE_RGB[face.eyes], 1 + face.eye_tone)
    lash = (40, 26, 30)
    h = face.eye_open
    for sign in (1, -1):
        ex = 0.5 + sign * _EYE_DX
        pen.poly(_ellipse(ex, _EYE_Y, 0.068, 0.058 * h), (255, 255, 255))
        ix, iy = ex - sign * 0.004, _EYE_Y + 0.006
        pen.poly(_ellipse(ix, iy, 0.054, 0.068 * h), iris, _shade(iris, 0.5), 0.007)
        pen.poly(_ellipse(ix, iy, 0.05, 0.064 * h, 210, 330, 12), _shade(iris, 0.8))  # shadow under the lid
        pen.poly(_ellipse(ix, iy + 0.004, 0.018, 0.027 * h), _shade(iris, 0.3))  # pupil
        pen.poly(_ellipse(ix, iy + 0.034 * h, 0.03, 0.02 * h, 0, 180, 10), _shade(iris, 1.3))  # glow
        pen.poly(_ellipse(ix + sign * 0.018, iy - 0.022 * h, 0.016, 0.016), (255, 255, 255))
        pen.poly(_ellipse(ix - sign * 0.02, iy + 0.028 * h, 0.007, 0.007, n=10), (255, 255, 255, 220))
        lid = _ellipse(ex, _EYE_Y + 0.004, 0.07, 0.064 * h, 195, 345, 12)
        if sign < 0:
            lid = lid[::-1]  # inner corner first
        pen.line(lid, lash, 0.02)
        tip = lid[-1]  # a small wing at the outer corner
        pen.poly([tip + (-sign * 0.012, -0.01), tip + (sign * 0.02, -0.012), tip + (0, 0.012)], lash)
        a0 = 40 if sign > 0 else 110  # a short lower lash at the outer corner
        pen.line(_ellipse(ex, _EYE_Y, 0.066, 0.058 * h, a0, a0 + 30, 5), lash, 0.008)
        brow = _bezier((ex - sign * 0.05, 0.425), (ex + sign * 0.01, 0.395), (ex + sign * 0.06, 0.415), 6)
        pen.line(brow, _shade(hair, 0.55), 0.011)


def _mouth(pen: _Pen, face: Face) -> None:
    """Smile: an open "D" mouth (with a tongue in variant 1); otherwise a short flat line. A small nose."""
    pen.line([(0.5, 0.6), (0.506, 0.61)], _shade(face.skin, 0.72), 0.01)
    if face.smile:
        w = 0.04 if face.mouth == 0 else 0.048
        d = np.concatenate([[(0.5 - w, 0.665)], _ellipse(0.5, 0.665, w, 0.038, 0, 180, 14), [(0.5 + w, 0.665)]])
        pen.poly(d, (168, 46, 58), (90, 26, 34), 0.008)
        if face.mouth == 1:
            pen.poly(_ellipse(0.5, 0.69, 0.022, 0.01, 180, 360, 8), (240, 118, 128))
    else:
        w = 0.024 if face.mouth == 0 else 0.03
        pen.line([(0.5 - w, 0.675), (0.5 + w, 0.675)], (110, 42, 48), 0.013)


def _blush(pen: _Pen) -> None:
    """Pink cheek marks with three hatch strokes."""
    for sign in (1, -1):
        cx = 0.5 + sign * 0.14
        pen.poly(_ellipse(cx, 0.6, 0.05, 0.022), (255, 96, 128, 140))
        for k in (-1, 0, 1):
            x = cx + k * 0.022
            pen.line([(x + 0.006, 0.59), (x - 0.006, 0.61)], (236, 70, 100, 200), 0.006)


def _glasses(pen: _Pen, face: Face) -> None:
    """Rounded rectangular frames over the eyes, with a bridge, arms and a glint on the lenses."""
    frame = _FRAMES[face.frame]
    for sign in (1, -1):
        ex = 0.5 + sign * _EYE_DX
        lens = _smooth([(ex - 0.084, _EYE_Y - 0.064), (ex + 0.084, _EYE_Y - 0.064),
                        (ex + 0.084, _EYE_Y + 0.07), (ex - 0.084, _EYE_Y + 0.07)], 3)
        pen.poly(lens, (255, 255, 255, 40), frame, 0.016)
        pen.line([(ex + 0.04, _EYE_Y - 0.05), (ex - 0.01, _EYE_Y + 0.01)], (255, 255, 255, 110), 0.01)
        pen.line([(ex + sign * 0.082, _EYE_Y - 0.03), (0.5 + sign * 0.225, _EYE_Y - 0.04)], frame, 0.014)
    bridge = [(0.5 - _EYE_DX + 0.08, _EYE_Y - 0.02), (0.5, _EYE_Y - 0.03), (0.5 + _EYE_DX - 0.08, _EYE_Y - 0.02)]
    pen.line(bridge, frame, 0.014)


def _fringe(pen: _Pen, face: Face, hair: RGB) -> None:
    """The hair in front: the top of the head, side locks and a fringe of pointed strands; a shine band."""
    line = _shade(hair, 0.5)
    lock_end = {"long hair": 0.86, "short hair": 0.63, "twintails": 0.68, "ponytail": 0.66}[face.style]
    lock_w = 0.07 if face.style == "long hair" else 0.055
    top = _ellipse(**_CAP, a0=180, a1=360, n=24)
    right = np.concatenate([_bezier((0.79, 0.41), (0.8, 0.6), (0.77, lock_end), 6),
                            _bezier((0.77, lock_end), (0.79 - lock_w, 0.56), (0.725, 0.38), 6)[1:]])
    pen.poly(np.concatenate([top, right, _strands(face.strands), _mirror(right)]), hair, line, 0.011)
    for a0, a1 in ((205, 240), (247, 293), (300, 335)):  # a broken shine band
        pen.line(_ellipse(0.5, 0.41, 0.215, 0.21, a0, a1, 6), _shade(hair, 1.45) + (150,), 0.026)


def _strands(k: int) -> np.ndarray:
    """The fringe's lower edge from right (x 0.725) to left (0.275): k pointed strands."""
    edges = np.linspace(0.725, 0.275, k + 1)
    pts = [np.array([[0.725, 0.38]])]
    for i in range(k):
        a, b = edges[i], edges[i + 1]
        tip = (a + b) / 2 + (0.01 if i < k / 2 else -0.01), 0.38 + 0.025 * np.sin(np.pi * (i + 0.5) / k)  # longer mid
        pts.append(_bezier((a, 0.3), (a - 0.005, 0.36), tip, 5)[1:])
        pts.append(_bezier(tip, (b + 0.005, 0.36), (b, 0.3), 5)[1:])
    pts.append(np.array([[0.275, 0.38]]))
    return np.concatenate(pts)


def _ties(pen: _Pen, face: Face, hair: RGB) -> None:
    """Where the hair is tied: a bow if the face has a ribbon, else a small band. Loose hair: a bow on the head."""
    if face.style == "twintails":
        spots = [(0.5 + s * 0.255, 0.22, s * 25) for s in (1, -1)]
    elif face.style == "ponytail":
        spots = [(0.5 + face.side * 0.2, 0.13, face.side * 20)]
    else:
        spots = [(0.5 + face.side * 0.2, 0.19, face.side * 25)] if face.ribbon else []
    for x, y, angle in spots:
        if face.ribbon:
            _bow(pen, (x, y), angle, RIBBON_RGB[face.ribbon])
        else:
            pen.poly(_ellipse(x, y, 0.03, 0.022), _shade(hair, 0.45), _shade(hair, 0.3), 0.006)


_LOOP = np.array([(0.12, -0.15), (0.5, -0.7), (0.95, -0.6), (1.05, 0.0), (0.95, 0.55), (0.5, 0.6), (0.12, 0.15)])
_TAIL = np.array([(0.05, 0.1), (0.3, 1.0), (0.5, 0.85), (0.2, 0.05)])


def _bow(pen: _Pen, at, angle: float, colour: RGB, s: float = 0.075) -> None:
    """A ribbon bow of half-width s units centred at ``at``, turned by ``angle`` degrees."""
    a = np.deg2rad(angle)
    rot = s * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    place = lambda p: np.asarray(p, float) @ rot + np.asarray(at, float)  # noqa: E731
    flip = np.array([-1.0, 1.0])
    dark, line = _shade(colour, 0.75), _shade(colour, 0.5)
    for f in (np.array([1.0, 1.0]), flip):
        pen.poly(place(_TAIL * f), dark, line, 0.008)
    for f in (np.array([1.0, 1.0]), flip):
        pen.poly(place(_smooth(_LOOP * f)), colour, line, 0.009)
        pen.line(place(np.array([(0.25, 0.0), (0.7, -0.15)]) * f), line, 0.007)
    pen.poly(place(_ellipse(0, 0, 0.22, 0.3, n=14)), colour, line, 0.008)


# ---- the image folder ----

def generate(root: Path, n: int = DEFAULT_N, seed: int = 0, size: int = 64, workers: int | None = None) -> Path:
    """Write ``n`` faces as ``root/images/<id>.jpg`` with ``root/tags.csv`` (the anime-set format:
    ``<id>,<hair> hair <eyes> eyes[,<tag>...]``), README.txt and a ``.complete`` marker.

    Drawn into a sibling temporary directory and renamed into place when complete; a complete set
    with the same version, seed, n and size is reused as it is. Identical bytes whatever ``workers``.
    """
    root = Path(root)
    if n < 1 or size < 8:
        raise DataError(f"toonfaces needs n >= 1 and size >= 8, got n={n}, size={size}")
    marker = {"version": VERSION, "seed": int(seed), "n": int(n), "size": int(size)}
    if _complete(root) == marker:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    tmp = root.parent / f"{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    print(f"drawing {n:,} synthetic toonfaces (seed {seed}) into {root}; once", file=sys.stderr)
    start = time.perf_counter()
    try:
        lines = _draw_all(tmp / "images", n, seed, size, workers)
        (tmp / "tags.csv").write_text("".join(lines))
        (tmp / "README.txt").write_text(_readme(n, seed, size))
        (tmp / ".complete").write_text(json.dumps(marker))
        _move_into_place(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"drew {n:,} toonfaces in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return root


def cache_dir() -> Path:
    """Where the default set lives: ``<cache>/toonfaces`` (its ``.complete`` says which set it holds)."""
    return cache_root() / "toonfaces"


def _readme(n: int, seed: int, size: int) -> str:
    return (f"Synthetic anime-style faces drawn by genlab (genlab.data.toonfaces), not real artwork; tags in tags.csv.\n"
            f"seed {seed}, n {n}, size {size}, VERSION {VERSION}: toonfaces.generate(root, n={n}, seed={seed}).\n")


def tag_line(index: int, face: Face) -> str:
    """One tags.csv line: ``17,red hair blue eyes,twintails,yellow ribbon,glasses,smile``."""
    tags = face.tags()
    return ",".join([str(index), f"{tags[0]} {tags[1]}", *tags[2:]]) + "\n"


def _draw_chunk(images: str, seed: int, start: int, stop: int, size: int) -> list[str]:
    """Draw faces start..stop-1 into ``images``; their tags.csv lines."""
    lines = []
    for i in range(start, stop):
        face = face_of(seed, i)
        draw_face(face, size).save(os.path.join(images, f"{i}.jpg"), "JPEG", **_JPEG)
        lines.append(tag_line(i, face))
    return lines


def _draw_all(images: Path, n: int, seed: int, size: int, workers: int | None) -> list[str]:
    """Every face's tag line in id order; chunks drawn in ``workers`` processes (1: in this one)."""
    workers = max(1, workers or os.cpu_count() or 1)
    chunk = max(1, min(_CHUNK, -(-n // workers)))
    starts = list(range(0, n, chunk))
    args = [(str(images), seed, a, min(a + chunk, n), size) for a in starts]
    if workers == 1 or len(starts) == 1:
        return [line for a in args for line in _draw_chunk(*a)]
    with ProcessPoolExecutor(max_workers=min(workers, len(starts))) as pool:
        return [line for part in pool.map(_draw_chunk, *zip(*args)) for line in part]


def _complete(root: Path) -> dict | None:
    """The ``.complete`` marker of a finished set at ``root``, or None."""
    try:
        return json.loads((root / ".complete").read_text())
    except (OSError, ValueError):
        return None


def _move_into_place(tmp: Path, root: Path) -> None:
    """Rename ``tmp`` to ``root``; whatever was at ``root`` is moved aside first, then deleted."""
    old = root.parent / f"{root.name}.old-{os.getpid()}"
    if root.is_dir() and not root.is_symlink():
        os.replace(root, old)
    elif root.exists() or root.is_symlink():
        root.unlink()
    os.replace(tmp, root)
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale(root: Path) -> None:
    """Delete ``<root>.tmp-<pid>`` / ``.old-<pid>`` siblings left by processes that died (POSIX)."""
    if os.name != "posix":
        return
    for p in root.parent.iterdir():
        head, _, pid = p.name.rpartition("-")
        if head in (f"{root.name}.tmp", f"{root.name}.old") and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
