"""Tags beside an image folder: read the tags file, join it to the images by file name, build a tag
vocabulary with exclusive groups (one hair colour, one eye colour), and turn a user's words into tags.

The tags file is the first of TAG_FILES found in the image folder:
- ``tags.csv`` / ``tags.txt``: ``<key>,<tag>,<tag>,...`` per image. The course's anime set writes
  ``17,blue hair red eyes`` (images/17.jpg), Danbooru style ``0001.png,long hair,red eyes,smile``.
- CelebA's ``list_attr_celeba.txt`` (also in ``Anno/``): the count, the 40 attribute names, then
  ``000001.jpg  -1  1 ...``; an image's tags are its +1 attributes (``Blond_Hair`` -> ``blond hair``).
"""

from __future__ import annotations

import csv
import difflib
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from genlab.errors import CheckpointError, DataError, GenlabError

TAG_FILES = ("tags.csv", "tags.txt", "list_attr_celeba.txt", "Anno/list_attr_celeba.txt")
# "<colour> <noun>" tags are grouped by noun; a group no image holds two of is exclusive
COLOURS = frozenset("red blue green yellow orange purple pink brown black white gray grey aqua blonde blond "
                    "silver".split())
_HEADER_KEYS = {"id", "file", "filename", "image", "name", "path"}  # a csv header line is skipped
_COMPOUND = re.compile(r"(.+? hair) (.+? eyes)|(.+? eyes) (.+? hair)")  # "blue hair red eyes"
# Synonyms, word by word, to a canonical word: applied to the user's words and the vocabulary's alike,
# so a synonym only ever finds a tag the vocabulary has ("blonde hair" finds "blond hair" and back).
_SAME = {"blonde": "blond", "gray": "grey", "eye": "eyes", "eyeglasses": "glasses", "spectacles": "glasses",
         "smiling": "smile", "smiles": "smile", "blushing": "blush", "twintail": "twintails", "haired": "hair",
         "eyed": "eyes"}
_USER_ONLY = {"bow": "ribbon", "bows": "ribbon"}  # one way: a user's "yellow bow" finds "yellow ribbon"
_JOINED = ((re.compile(r"\btwin tails?\b"), "twintails"), (re.compile(r"\bpony tails?\b"), "ponytail"))


def normalise(tag: str) -> str:
    """How tags are stored and compared: stripped, lowercase, ``_`` as space, single spaces."""
    return " ".join(tag.replace("_", " ").lower().split())


@dataclass(frozen=True)
class TagTable:
    format: str  # "csv" (anime and Danbooru style) or "celeba"
    path: Path
    tags: dict[str, list[str]]  # key (first field) -> its tags in file order, no repeats
    malformed: int  # lines that could not be parsed (skipped)
    duplicates: int  # lines whose key an earlier line had (the last line wins)


def find_tags_file(root: Path) -> Path:
    """The first of TAG_FILES in ``root``."""
    if not root.is_dir():
        raise DataError(f"image directory {root} does not exist: check the path")
    for name in TAG_FILES:
        if (root / name).is_file():
            return root / name
    raise DataError(f"no tags file in {root}: put one of {', '.join(TAG_FILES)} beside the images")


def read_tags(root: Path) -> TagTable:
    """The tags file of the image folder ``root``; malformed and duplicate lines warned about on stderr."""
    path = find_tags_file(root)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")  # a BOM is fine
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path} is not UTF-8 text (line {line}): save it as UTF-8") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    lines = re.split(r"\r\n?|\n", text)
    fmt = "celeba" if path.name == "list_attr_celeba.txt" else "csv"
    rows, bad = _celeba_rows(lines, path) if fmt == "celeba" else _csv_rows(lines)
    tags: dict[str, list[str]] = {}
    dups = []
    for key, row in rows:
        if key in tags:
            dups.append(key)
        tags[key] = list(dict.fromkeys(row))
    if not tags:
        raise DataError(f"no usable line in {path}: write one line per image, like '17,blue hair red eyes' "
                        "or '0001.png,long hair,smile'")
    _warn(f"{path.name}: ", [(bad, "malformed line", "malformed lines", "skipped (e.g. line {})"),
                              (dups, "key appears", "keys appear", "again, the last line wins (e.g. {!r})")])
    return TagTable(fmt, path, tags, len(bad), len(dups))


def _split_compound(tag: str) -> list[str]:
    """"blue hair red eyes" -> ["blue hair", "red eyes"]; any other tag -> [tag]."""
    m = _COMPOUND.fullmatch(tag)
    return [g for g in m.groups() if g] if m else [tag]


def _csv_rows(lines: list[str]) -> tuple[list[tuple[str, list[str]]], list[int]]:
    """(key, tags) per usable line, and the numbers (from 1) of the malformed lines."""
    rows, bad = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line]))
        except csv.Error:  # e.g. a NUL byte
            bad.append(n)
            continue
        key = fields[0].strip()
        if not key:
            bad.append(n)
        elif not (rows or bad) and key.lower() in _HEADER_KEYS:
            continue
        else:
            parts = [part for f in fields[1:] for part in f.split(",")]  # '0001.png,"long hair, smile"' too
            rows.append((key, [t for part in parts for t in _split_compound(normalise(part)) if t]))
    return rows, bad


def _celeba_rows(lines: list[str], path: Path) -> tuple[list[tuple[str, list[str]]], list[int]]:
    """As _csv_rows, for a CelebA table: each row's +1 attributes."""
    content = [(n, line.split()) for n, line in enumerate(lines, 1) if line.strip()]
    if len(content) < 2 or len(content[0][1]) != 1 or not content[0][1][0].isdigit():
        raise DataError(f"{path} is not a CelebA attribute table: its line 1 should be the number of images "
                        "and line 2 the attribute names")
    names = [normalise(a) for a in content[1][1]]
    rows, bad = [], []
    for n, fields in content[2:]:
        if len(fields) != len(names) + 1 or not set(fields[1:]) <= {"1", "+1", "-1"}:
            bad.append(n)
        else:
            rows.append((fields[0], [a for a, v in zip(names, fields[1:]) if v != "-1"]))
    return rows, bad


@dataclass(frozen=True)
class TagJoin:
    indices: list[int]  # into files: the images with a tags line, in order
    tags: list[list[str]]  # their tags, one list per index
    skipped: int  # images with no tags line
    missing: list[str]  # keys of lines that name no image that could be read
    ambiguous: list[str]  # keys naming several images by file name or stem (give the path instead)
    overridden: list[str]  # keys of lines that a later line naming the same image replaced


def join_tags(root: Path, files: list[Path], table: TagTable) -> TagJoin:
    """Match each line of ``table`` to one of ``files`` (the images that decoded, under ``root``)
    by the image's path relative to root, that path without extension, its file name or its stem:
    the first form any image has decides; a key several images share there matches none."""
    rels = [f.relative_to(root).as_posix() for f in files]
    levels: list[dict[str, list[int]]] = [{}, {}, {}, {}]
    for i, rel in enumerate(rels):
        p = PurePosixPath(rel)
        for level, form in zip(levels, (rel, str(p.with_suffix("")), p.name, p.stem)):
            level.setdefault(form, []).append(i)
    owner: dict[int, str] = {}  # image index -> key of its line
    missing, ambiguous, overridden = [], [], []
    for key in table.tags:
        k = key.replace("\\", "/").removeprefix("./")
        hits = next((level[k] for level in levels if k in level), [])
        if len(hits) > 1:
            ambiguous.append(key)
        elif not hits:
            missing.append(key)
        else:
            if hits[0] in owner:
                overridden.append(owner[hits[0]])
            owner[hits[0]] = key
    indices = sorted(owner)
    skipped = [rels[i] for i in range(len(files)) if i not in owner]
    name = table.path.name
    if not indices:
        example = f" (e.g. {rels[0]!r} or {PurePosixPath(rels[0]).stem!r})" if rels else ""
        raise DataError(f"none of the {len(files)} images under {root} has a line in {name}: the first field of a "
                        f"line (e.g. {next(iter(table.tags))!r}) should be an image's path under that folder or its "
                        f"file name, with or without the extension{example}")
    _warn("", [(skipped, "image has", "images have", f"no line in {name} (skipped, e.g. {{}})"),
               (missing, f"line of {name} names", f"lines of {name} name", "no image that could be read (e.g. {})"),
               (ambiguous, f"line of {name} names", f"lines of {name} name", "several images (e.g. {}): "
                "write the path instead"),
               (overridden, "image is", "images are", "named by two lines, the last wins (e.g. {})")])
    return TagJoin(indices, [table.tags[owner[i]] for i in indices], len(skipped), missing, ambiguous, overridden)


def _many(n: int, one: str, several: str) -> str:
    return f"{n} {one if n == 1 else several}"


def _warn(prefix: str, parts: list[tuple[list, str, str, str]]) -> None:
    """One warning line on stderr from the (items, singular, plural, tail) parts with items; the
    tail's {} is the first item."""
    said = [f"{_many(len(items), one, several)} {tail.format(items[0])}"
            for items, one, several, tail in parts if items]
    if said:
        print(f"warning: {prefix}{'; '.join(said)}", file=sys.stderr)


@dataclass(frozen=True)
class TagGroup:
    name: str  # the noun its tags share: "hair", "eyes"
    members: tuple[int, ...]  # indices into TagVocab.names; an image has at most one of them
    always: bool  # every image has one; else "none of them" is a value too


@dataclass(frozen=True)
class TagVocab:
    """Tags in this order: each group's members (groups by name, members by name), then the binary
    tags (by name). ``dropped`` lists the rarer tags with their image counts, most common first."""
    names: tuple[str, ...]
    groups: tuple[TagGroup, ...]
    binary: tuple[int, ...]  # indices not in any group
    dropped: tuple[tuple[str, int], ...]
    min_count: int
    notes: tuple[str, ...] = ()  # e.g. colour groups that are not exclusive

    def index(self, tag: str) -> int:
        tag = normalise(tag)
        if tag not in self.names:
            raise GenlabError(_unknown(tag, self))
        return self.names.index(tag)

    def group_of(self, i: int) -> TagGroup | None:
        return next((g for g in self.groups if i in g.members), None)

    def multi_hot(self, tag_lists: list[list[str]]) -> np.ndarray:
        """uint8 (N, T): 1 where image n has tag t; tags not in the vocabulary are ignored."""
        index = {t: i for i, t in enumerate(self.names)}
        out = np.zeros((len(tag_lists), len(self.names)), dtype=np.uint8)
        for row, tags in enumerate(tag_lists):
            cols = [index[t] for t in map(normalise, tags) if t in index]
            out[row, cols] = 1
        return out

    def to_dict(self) -> dict:
        return {"names": list(self.names), "min_count": self.min_count, "binary": list(self.binary),
                "groups": [{"name": g.name, "members": list(g.members), "always": g.always} for g in self.groups],
                "dropped": [[t, c] for t, c in self.dropped], "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d) -> TagVocab:
        """The inverse of to_dict, checking everything (CheckpointError on anything malformed)."""
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise CheckpointError(f"the tag vocabulary in this checkpoint is malformed ({what}): the file is "
                                      "corrupt or was not written by genlab; use another checkpoint or retrain")

        keys = {"names", "min_count", "binary", "groups", "dropped", "notes"}
        need(isinstance(d, dict) and set(d) == keys, f"expected the keys {', '.join(sorted(keys))}")
        names = d["names"]
        need(_seq(names, str) and names and all(names) and len(set(names)) == len(names),
             "names must be distinct strings")
        need(_seq(d["binary"], int) and _seq(d["groups"], dict), "binary must list indices, groups objects")
        seen: set[int] = set()
        groups = []
        for g in d["groups"]:
            need(set(g) == {"name", "members", "always"} and isinstance(g["name"], str) and g["name"]
                 and _seq(g["members"], int) and len(g["members"]) >= 2 and isinstance(g["always"], bool),
                 "a group needs a name, at least 2 members and always true or false")
            groups.append(TagGroup(g["name"], tuple(g["members"]), g["always"]))
        for i in [i for g in groups for i in g.members] + list(d["binary"]):
            need(0 <= i < len(names), f"tag index {i} is out of range for {len(names)} tags")
            need(i not in seen, f"tag {names[i]!r} is in two groups, or in a group and binary")
            seen.add(i)
        need(len(seen) == len(names), "every tag must be in one group or binary")
        need(len({g.name for g in groups}) == len(groups), "two groups have one name")
        need(_seq(d["dropped"], (list, tuple)) and all(len(x) == 2 and isinstance(x[0], str) and _seq(x[1:], int)
                                                      for x in d["dropped"]), "dropped must list [tag, count] pairs")
        need(_seq([d["min_count"]], int) and d["min_count"] >= 1, "min_count must be a positive integer")
        need(_seq(d["notes"], str), "notes must be strings")
        return cls(tuple(names), tuple(groups), tuple(d["binary"]), tuple((t, c) for t, c in d["dropped"]),
                   d["min_count"], tuple(d["notes"]))


def _seq(x, kind) -> bool:
    """A list or tuple of ``kind`` (never bool for int)."""
    return isinstance(x, (list, tuple)) and all(isinstance(v, kind) and not isinstance(v, bool) for v in x)


def build_vocab(tag_lists: list[list[str]], min_count: int = 10) -> TagVocab:
    """The tags of at least ``min_count`` images, colour tags grouped by noun where exclusive."""
    if min_count < 1:
        raise GenlabError(f"the minimum tag count must be at least 1, got {min_count}")
    sets = [set(map(normalise, tags)) for tags in tag_lists]
    counts = Counter(t for s in sets for t in s)
    kept = sorted(t for t, c in counts.items() if c >= min_count)
    dropped = tuple(sorted(((t, c) for t, c in counts.items() if c < min_count), key=lambda tc: (-tc[1], tc[0])))
    if not kept:
        most = f" (the most common, {dropped[0][0]!r}, is on {dropped[0][1]})" if dropped else ""
        raise DataError(f"no tag is on {min_count} or more of the {len(sets)} images{most}: lower the minimum "
                        "tag count or add images")
    by_noun: dict[str, list[str]] = {}
    for t in kept:
        words = t.split()
        if len(words) >= 2 and words[0] in COLOURS:
            by_noun.setdefault(" ".join(words[1:]), []).append(t)
    groups, notes = [], []
    for noun, members in sorted(by_noun.items()):
        if len(members) < 2:
            continue
        group = set(members)
        clash = [s & group for s in sets if len(s & group) > 1]
        if clash:
            notes.append(f"{noun} tags are not exclusive ({_many(len(clash), 'image has', 'images have')} two, "
                         f"e.g. {' and '.join(sorted(clash[0])[:2])}): they stay binary tags")
        else:
            groups.append((noun, members, all(s & group for s in sets)))
    grouped = [t for _, members, _ in groups for t in members]
    names = tuple(grouped + sorted(set(kept) - set(grouped)))
    index = {t: i for i, t in enumerate(names)}
    return TagVocab(names, tuple(TagGroup(n, tuple(index[t] for t in m), a) for n, m, a in groups),
                    tuple(range(len(grouped), len(names))), dropped, min_count, tuple(notes))


def describe(vocab: TagVocab) -> str:
    """A few lines for the command line: groups, binary tags, dropped tags, notes."""
    lines = [f"{len(vocab.names)} tags, each on at least {vocab.min_count} images:"]
    for g in vocab.groups:
        lines.append(f"  {g.name} ({'exactly one' if g.always else 'one or none'}): "
                     f"{', '.join(vocab.names[i] for i in g.members)}")
    if vocab.binary:
        lines.append(f"  on or off: {', '.join(vocab.names[i] for i in vocab.binary)}")
    if vocab.dropped:
        lines.append(f"  dropped (on fewer images): {_brief([f'{t} ({c})' for t, c in vocab.dropped], 20)}")
    return "\n".join(lines + [f"  note: {n}" for n in vocab.notes])


def _brief(items: list[str] | tuple[str, ...], limit: int = 12) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _words(text: str) -> list[str]:
    """Lowercase words; punctuation, "-" and "_" separate them ("red-haired" -> red haired)."""
    text = re.sub(r"[\W_]+", " ", text.lower())
    for pattern, joined in _JOINED:
        text = pattern.sub(joined, text)
    return text.split()


def _canon(words, user: bool) -> tuple[str, ...]:
    return tuple(_USER_ONLY.get(w, _SAME.get(w, w)) if user else _SAME.get(w, w) for w in words)


def _table(vocab: TagVocab) -> dict[tuple[str, ...], int]:
    """Each tag's words, canonical and as written (which win a tie), -> its index."""
    words = [tuple(_words(name)) for name in vocab.names]
    table = {}
    for i, w in reversed(list(enumerate(words))):  # the first tag wins a tie
        table[_canon(w, user=False)] = i
    return table | {w: i for i, w in enumerate(words)}


def _lookup(words: list[str], table: dict) -> int | None:
    key = tuple(words)
    return table[key] if key in table else table.get(_canon(key, user=True))


def parse_tags(text: str, vocab: TagVocab) -> list[int]:
    """Sorted indices of the comma-separated tags in ``text`` ("red hair, red eyes")."""
    table = _table(vocab)
    found = []
    for item in map(normalise, text.split(",")):
        i = vocab.names.index(item) if item in vocab.names else _lookup(_words(item), table)
        if item and i is None:
            raise GenlabError(_unknown(item, vocab))
        found += [] if i is None else [i]
    return _finish(found, text, vocab)


def parse_prompt(text: str, vocab: TagVocab) -> list[int]:
    """Sorted indices of the tags named in free text ("girl with red hair and red eyes"): the longest
    tag phrase at each word wins; other words are ignored, but a colour and a noun some tag uses
    ("purple hair") that is not a tag is an error."""
    table = _table(vocab)
    longest = max(map(len, table))
    nouns = {k[-1] for k in table if len(k) > 1}
    words = _words(text)
    user = _canon(words, user=True)
    found, at = [], 0
    while at < len(words):
        for n in range(min(longest, len(words) - at), 0, -1):
            i = _lookup(words[at:at + n], table)
            if i is not None:
                found.append(i)
                at += n
                break
        else:
            if user[at] in COLOURS and at + 1 < len(words) and user[at + 1] in nouns:
                raise GenlabError(_unknown(" ".join(words[at:at + 2]), vocab))
            at += 1
    return _finish(found, text, vocab)


def _finish(found: list[int], text: str, vocab: TagVocab) -> list[int]:
    """Sorted, without repeats; none, or two of one exclusive group, is an error."""
    found = sorted(set(found))
    if not found:
        raise GenlabError(f"no known tag in {text!r}: the tags are {_brief(vocab.names)}")
    for g in vocab.groups:
        both = [vocab.names[i] for i in found if i in g.members]
        if len(both) > 1:
            raise GenlabError(f"{both[0]!r} and {both[1]!r} are both in the exclusive group {g.name!r} (an image "
                              "has at most one of them): keep one")
    return found


def _either(items: list[str]) -> str:
    """'a', 'b' or 'c'"""
    quoted = [repr(t) for t in items]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _unknown(phrase: str, vocab: TagVocab) -> str:
    """'unknown tag ...' with the closest tags, else the tags sharing its noun, else all of them."""
    close = difflib.get_close_matches(phrase, vocab.names, n=3, cutoff=0.6)
    rare = dict(vocab.dropped).get(phrase)
    why = f" (only {_many(rare, 'image has', 'images have')} it; the minimum is {vocab.min_count})" if rare else ""
    if close:
        return f"unknown tag {phrase!r}{why}: did you mean {_either(close)}?"
    noun = _canon(_words(phrase), user=True)[-1:]
    same = [t for t in vocab.names if len(_words(t)) > 1 and _canon(_words(t), user=False)[-1:] == noun]
    if same:
        return f"unknown tag {phrase!r}{why}: known {noun[0]} tags: {_brief(same)}"
    return f"unknown tag {phrase!r}{why}: known tags: {_brief(vocab.names)}"
