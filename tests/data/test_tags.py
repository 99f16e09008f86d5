"""Tags files (anime csv, Danbooru csv, CelebA table), joining them to images, the tag vocabulary,
and turning a user's words into tags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genlab.data.tags import TagVocab, build_vocab, describe, join_tags, parse_prompt, parse_tags, read_tags
from genlab.errors import CheckpointError, DataError, GenlabError


def _touch(root, *names):
    """Empty files with image names (join_tags only looks at paths); returns their paths."""
    paths = []
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
        paths.append(root / name)
    return paths


# ---- reading ----------------------------------------------------------------------------------------

def test_anime_csv_and_join(tmp_path, capsys):
    (tmp_path / "tags.csv").write_text("1,blue hair red eyes\n2,Red  hair blue eyes\n3,blonde hair green eyes\n"
                                       "45,aqua hair aqua eyes\n")
    files = _touch(tmp_path, "images/1.jpg", "images/2.jpg", "images/4.jpg")  # 3.jpg failed to decode
    table = read_tags(tmp_path)
    assert (table.format, table.path, table.malformed, table.duplicates) == ("csv", tmp_path / "tags.csv", 0, 0)
    assert table.tags == {"1": ["blue hair", "red eyes"], "2": ["red hair", "blue eyes"],
                          "3": ["blonde hair", "green eyes"], "45": ["aqua hair", "aqua eyes"]}
    assert capsys.readouterr().err == ""
    join = join_tags(tmp_path, files, table)
    assert join.indices == [0, 1] and join.tags == [["blue hair", "red eyes"], ["red hair", "blue eyes"]]
    assert (join.skipped, join.missing, join.ambiguous, join.overridden) == (1, ["3", "45"], [], [])
    assert capsys.readouterr().err == ("warning: 1 image has no line in tags.csv (skipped, e.g. images/4.jpg); "
                                       "2 lines of tags.csv name no image that could be read (e.g. 3)\n")


def test_danbooru_csv(tmp_path, capsys):
    text = ("\ufeff0001.png,long_hair,red eyes,smile,smile\n\n"
            "0002.png\n"  # a key and no tag: an image with no tags
            "0003.png, Twintails ,,yellow ribbon,\n"
            ",smile\n"  # no key: malformed
            "0004.png,\"blush, open mouth\"\n"
            "0001.png,short hair\n"  # the last line wins
            "17,red hair blue eyes,twintails,yellow ribbon,glasses,smile\n")  # genlab's synthetic set
    (tmp_path / "tags.csv").write_text(text, encoding="utf-8")
    table = read_tags(tmp_path)
    assert table.tags == {"0001.png": ["short hair"], "0002.png": [], "0003.png": ["twintails", "yellow ribbon"],
                          "0004.png": ["blush", "open mouth"],
                          "17": ["red hair", "blue eyes", "twintails", "yellow ribbon", "glasses", "smile"]}
    assert (table.malformed, table.duplicates) == (1, 1)
    assert capsys.readouterr().err == ("warning: tags.csv: 1 malformed line skipped (e.g. line 5); "
                                       "1 key appears again, the last line wins (e.g. '0001.png')\n")


def test_header_line_and_tags_txt(tmp_path):
    (tmp_path / "tags.txt").write_text("file,tags\r\na.png,smile\r\n")
    assert read_tags(tmp_path).tags == {"a.png": ["smile"]}


def test_celeba_table_in_anno(tmp_path, capsys):
    (tmp_path / "Anno").mkdir()
    (tmp_path / "Anno" / "list_attr_celeba.txt").write_text(
        "5\nBlond_Hair Eyeglasses Smiling Young \n"
        "000001.jpg  1 -1  1  1\n"
        "000002.jpg -1  1 -1 -1\n"
        "000003.jpg  1  1\n"  # wrong count
        "000004.jpg  1  0  1  1\n"  # not +1/-1
        "000005.jpg -1 -1 -1  1\n")
    table = read_tags(tmp_path)
    assert table.format == "celeba" and table.path == tmp_path / "Anno" / "list_attr_celeba.txt"
    assert table.tags == {"000001.jpg": ["blond hair", "smiling", "young"], "000002.jpg": ["eyeglasses"],
                          "000005.jpg": ["young"]}
    assert table.malformed == 2
    assert capsys.readouterr().err == "warning: list_attr_celeba.txt: 2 malformed lines skipped (e.g. line 5)\n"
    files = _touch(tmp_path, "img_align_celeba/000001.jpg", "img_align_celeba/000002.jpg")
    assert join_tags(tmp_path, files, table).tags == [["blond hair", "smiling", "young"], ["eyeglasses"]]


def test_celeba_bad_header(tmp_path):
    (tmp_path / "list_attr_celeba.txt").write_text("Blond_Hair Smiling\n000001.jpg 1 1\n")
    with pytest.raises(DataError, match="is not a CelebA attribute table: its line 1 should be the number"):
        read_tags(tmp_path)


def test_first_tags_file_wins(tmp_path):
    (tmp_path / "tags.csv").write_text("a,smile\n")
    (tmp_path / "list_attr_celeba.txt").write_text("1\nSmiling\nb.jpg 1\n")
    assert read_tags(tmp_path).tags == {"a": ["smile"]}


def test_no_tags_file(tmp_path):
    with pytest.raises(DataError) as info:
        read_tags(tmp_path)
    assert str(info.value) == (f"no tags file in {tmp_path}: put one of tags.csv, tags.txt, list_attr_celeba.txt, "
                               "Anno/list_attr_celeba.txt beside the images")
    with pytest.raises(DataError, match="does not exist"):
        read_tags(tmp_path / "nowhere")


def test_not_utf8(tmp_path):
    (tmp_path / "tags.csv").write_bytes(b"1,red hair\n2,caf\xe9 hair\n")
    with pytest.raises(DataError) as info:
        read_tags(tmp_path)
    assert str(info.value) == f"{tmp_path / 'tags.csv'} is not UTF-8 text (line 2): save it as UTF-8"


@pytest.mark.parametrize("text", ["", "\n  \n", ",smile\n,red hair\n"])
def test_no_usable_line(tmp_path, text):
    (tmp_path / "tags.csv").write_text(text)
    with pytest.raises(DataError, match="no usable line in .*tags.csv: write one line per image"):
        read_tags(tmp_path)


# ---- joining ----------------------------------------------------------------------------------------

def _join(tmp_path, lines, names):
    (tmp_path / "tags.csv").write_text("".join(f"{line}\n" for line in lines))
    return join_tags(tmp_path, _touch(tmp_path, *names), read_tags(tmp_path))


def test_join_by_stem_name_and_path(tmp_path, capsys):
    names = ["img/0001.png", "images/17.jpg", "a/x.png", "b/x.png", "x.png", "c/y.gif"]
    join = _join(tmp_path, ["0001.png,one", "17,seventeen", "b/x,bx", "x.png,top", "c/y.gif,y"], names)
    assert join.indices == [0, 1, 3, 4, 5]
    assert join.tags == [["one"], ["seventeen"], ["bx"], ["top"], ["y"]]
    assert (join.skipped, join.missing, join.ambiguous) == (1, [], [])
    assert "1 image has no line in tags.csv (skipped, e.g. a/x.png)" in capsys.readouterr().err


def test_join_ambiguous_stem(tmp_path, capsys):
    join = _join(tmp_path, ["x,both", "a/x.png,a"], ["a/x.png", "b/x.png"])
    assert (join.indices, join.tags, join.skipped, join.ambiguous) == ([0], [["a"]], 1, ["x"])
    assert capsys.readouterr().err == ("warning: 1 image has no line in tags.csv (skipped, e.g. b/x.png); "
                                       "1 line of tags.csv names several images (e.g. x): write the path instead\n")


def test_join_two_lines_for_one_image(tmp_path, capsys):
    join = _join(tmp_path, ["17,first", "17.jpg,second"], ["17.jpg"])
    assert (join.indices, join.tags, join.overridden) == ([0], [["second"]], ["17"])
    assert capsys.readouterr().err == "warning: 1 image is named by two lines, the last wins (e.g. 17)\n"


def test_join_nothing_matches(tmp_path):
    with pytest.raises(DataError) as info:
        _join(tmp_path, ["45,smile"], ["a.png", "b.png"])
    assert str(info.value) == (f"none of the 2 images under {tmp_path} has a line in tags.csv: the first field of a "
                               "line (e.g. '45') should be an image's path under that folder or its file name, with "
                               "or without the extension (e.g. 'a.png' or 'a')")


# ---- vocabulary -------------------------------------------------------------------------------------

LISTS = [["red hair", "blue eyes", "smile", "yellow ribbon", "red ribbon"],
         ["red hair", "red eyes", "yellow ribbon"],
         ["blue hair", "red eyes", "red ribbon", "glasses"],
         ["blue hair", "blue eyes", "glasses", "hat"],
         ["blue eyes", "smile", "green hair", "long hair"],
         ["red eyes", "long hair"]]
NAMES = ("blue eyes", "red eyes", "blue hair", "red hair", "glasses", "long hair", "red ribbon", "smile",
         "yellow ribbon")


def test_vocab_groups_binary_dropped():
    v = build_vocab(LISTS, min_count=2)
    assert v.names == NAMES
    assert [(g.name, g.members, g.always) for g in v.groups] == [("eyes", (0, 1), True), ("hair", (2, 3), False)]
    assert v.binary == (4, 5, 6, 7, 8)
    assert v.dropped == (("green hair", 1), ("hat", 1)) and v.min_count == 2
    assert v.notes == ("ribbon tags are not exclusive (1 image has two, e.g. red ribbon and yellow ribbon): "
                       "they stay binary tags",)
    assert v.index("Red_Hair") == 3 and v.group_of(3) == v.groups[1] and v.group_of(7) is None
    hot = v.multi_hot([["red hair", "hat", "smile"], []])
    assert hot.dtype == np.uint8 and hot.tolist() == [[0, 0, 0, 1, 0, 0, 0, 1, 0], [0] * 9]
    assert describe(v) == ("9 tags, each on at least 2 images:\n"
                           "  eyes (exactly one): blue eyes, red eyes\n"
                           "  hair (one or none): blue hair, red hair\n"
                           "  on or off: glasses, long hair, red ribbon, smile, yellow ribbon\n"
                           "  dropped (on fewer images): green hair (1), hat (1)\n"
                           "  note: ribbon tags are not exclusive (1 image has two, e.g. red ribbon and yellow "
                           "ribbon): they stay binary tags")


def test_vocab_default_min_count_and_single_colour():
    v = build_vocab([["red hair", "smile"]] * 10 + [["blue hair"]] * 9)
    assert v.names == ("red hair", "smile") and v.groups == () and v.binary == (0, 1)
    assert v.dropped == (("blue hair", 9),) and v.min_count == 10
    with pytest.raises(DataError, match=r"no tag is on 20 or more of the 19 images \(the most common, 'red hair'"):
        build_vocab([["red hair", "smile"]] * 10 + [["blue hair"]] * 9, min_count=20)


def test_vocab_round_trip():
    v = build_vocab(LISTS, min_count=2)
    assert TagVocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def _bad(**change):
    d = build_vocab(LISTS, min_count=2).to_dict()
    d.update(change)
    return d


@pytest.mark.parametrize("d, what", [
    ([1, 2], "expected the keys"),
    ({k: v for k, v in _bad().items() if k != "notes"}, "expected the keys"),
    (_bad(names=list(NAMES[:-1]) + ["red eyes"]), "names must be distinct strings"),
    (_bad(names=list(NAMES[:-1]) + [3]), "names must be distinct strings"),
    (_bad(names=[], groups=[], binary=[]), "names must be distinct strings"),
    (_bad(binary=[4, 5, 6, 7, 9]), "tag index 9 is out of range for 9 tags"),
    (_bad(binary=[4, 5, 6, 7, 8, 0]), "tag 'blue eyes' is in two groups, or in a group and binary"),
    (_bad(binary=[4, 5, 6, 7]), "every tag must be in one group or binary"),
    (_bad(binary=[4, 5, 6, 7, True]), "binary must list indices"),
    (_bad(groups=[{"name": "eyes", "members": [0, 1], "always": True},
                  {"name": "hair", "members": [1, 2, 3], "always": False}]), "tag 'red eyes' is in two groups"),
    (_bad(groups=[{"name": "eyes", "members": [0, 1], "always": 1}]), "a group needs a name"),
    (_bad(groups=[{"name": "eyes", "members": [0], "always": True}]), "a group needs a name"),
    (_bad(dropped=[["hat", "1"]]), "dropped must list [tag, count] pairs"),
    (_bad(min_count=0), "min_count must be a positive integer"),
    (_bad(notes="x"), "notes must be strings"),
])
def test_vocab_from_dict_rejects(d, what):
    with pytest.raises(CheckpointError) as info:
        TagVocab.from_dict(d)
    assert str(info.value).startswith("the tag vocabulary in this checkpoint is malformed (")
    assert what in str(info.value)


# ---- words to tags ----------------------------------------------------------------------------------

ANIME = build_vocab([["red hair", "red eyes", "smile"], ["blonde hair", "blue eyes", "glasses", "twintails"],
                     ["purple hair", "grey eyes", "yellow ribbon", "blush"]], min_count=1)
CELEBA = build_vocab([["blond hair", "eyeglasses", "smiling"], ["gray hair", "young"], ["black hair"]], min_count=1)


def _names(vocab, indices):
    return [vocab.names[i] for i in indices]


def test_anime_names():
    assert ANIME.names == ("blue eyes", "grey eyes", "red eyes", "blonde hair", "purple hair", "red hair",
                           "blush", "glasses", "smile", "twintails", "yellow ribbon")
    assert CELEBA.names == ("black hair", "blond hair", "gray hair", "eyeglasses", "smiling", "young")


@pytest.mark.parametrize("text, tags", [
    ("girl with red hair and red eyes", ["red eyes", "red hair"]),
    ("red eyes and red hair", ["red eyes", "red hair"]),
    ("a girl with yellow ribbon", ["yellow ribbon"]),
    ("a girl with a yellow bow", ["yellow ribbon"]),
    ("Red-haired girl, blue eyes, smiling", ["blue eyes", "red hair", "smile"]),
    ("blond haired, blue-eyed girl with spectacles", ["blue eyes", "blonde hair", "glasses"]),
    ("gray eye, eyeglasses, blushing, twin tails", ["grey eyes", "blush", "glasses", "twintails"]),
    ("smile smiles SMILING", ["smile"]),
])
def test_prompt_anime(text, tags):
    assert _names(ANIME, parse_prompt(text, ANIME)) == tags


@pytest.mark.parametrize("text, tags", [
    ("blonde girl? no: a blonde-haired young woman with glasses", ["blond hair", "eyeglasses", "young"]),
    ("grey hair, smile", ["gray hair", "smiling"]),
])
def test_prompt_celeba(text, tags):
    assert _names(CELEBA, parse_prompt(text, CELEBA)) == tags


def test_parse_tags():
    assert _names(ANIME, parse_tags("red hair, red eyes", ANIME)) == ["red eyes", "red hair"]
    assert _names(ANIME, parse_tags("red eyes, Red_Hair ,red hair,", ANIME)) == ["red eyes", "red hair"]
    assert _names(CELEBA, parse_tags("blonde hair, glasses, smile", CELEBA)) == ["blond hair", "eyeglasses",
                                                                                 "smiling"]
    assert _names(ANIME, parse_tags("blond hair, eyeglasses, grey eye", ANIME)) == ["grey eyes", "blonde hair",
                                                                                    "glasses"]


def _error(parse, text, vocab=ANIME):
    with pytest.raises(GenlabError) as info:
        parse(text, vocab)
    return str(info.value)


def test_unknown_tag():
    assert _error(parse_tags, "purple hare") == "unknown tag 'purple hare': did you mean 'purple hair' or 'red hair'?"
    assert _error(parse_tags, "red hair, sword") == ("unknown tag 'sword': known tags: blue eyes, grey eyes, red eyes, "
                                                     "blonde hair, purple hair, red hair, blush, glasses, smile, "
                                                     "twintails, yellow ribbon")
    assert _error(parse_prompt, "girl with black hair") == "unknown tag 'black hair': did you mean 'blonde hair'?"
    assert _error(parse_prompt, "a girl, green eyes") == ("unknown tag 'green eyes': did you mean 'grey eyes', "
                                                          "'red eyes' or 'blue eyes'?")
    assert _error(parse_prompt, "pink ribbon") == "unknown tag 'pink ribbon': known ribbon tags: yellow ribbon"
    rare = build_vocab([["red hair"]] * 2 + [["blue hair"]], min_count=2)
    assert _error(parse_tags, "blue hair", rare) == ("unknown tag 'blue hair' (only 1 image has it; the minimum is 2): "
                                                     "did you mean 'red hair'?")


def test_two_of_one_group():
    message = ("'purple hair' and 'red hair' are both in the exclusive group 'hair' (an image has at most one of "
               "them): keep one")
    assert _error(parse_tags, "red hair, purple hair") == message
    assert _error(parse_prompt, "a girl with red hair and purple hair") == message


def test_nothing_found():
    assert _error(parse_prompt, "a girl").startswith("no known tag in 'a girl': the tags are blue eyes, grey eyes, ")
    assert _error(parse_tags, " , ").startswith("no known tag in ' , ': the tags are ")


def test_exact_spelling_wins_over_synonym():
    both = build_vocab([["blond hair"], ["blonde hair"]], min_count=1)
    assert _names(both, parse_prompt("blonde hair", both)) == ["blonde hair"]
    assert _names(both, parse_tags("blond hair", both)) == ["blond hair"]
    assert _names(both, parse_prompt("blonde-haired", both)) == ["blond hair"]  # no exact match: the first tag
