"""Tagged image folders through load_dataset: toonfaces and a user's folder with a tags file."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import load_dataset, toonfaces
from genlab.data.dataset import DataSpec
from genlab.errors import CheckpointError, DataError


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return toonfaces.generate(tmp_path_factory.mktemp("faces") / "set", n=60, seed=0, workers=1)


def test_a_tagged_folder_carries_its_tags_and_vocabulary(faces):
    data = load_dataset(str(faces), min_tag_count=1)
    assert data.train.shape == (54, 3, 64, 64) and data.test.shape == (6, 3, 64, 64)
    assert data.train_labels is None and data.train_tags.shape == (54, len(data.tags.names))
    counted = collections.Counter(t for line in (faces / "tags.csv").read_text().splitlines()
                                  for f in line.split(",")[1:] for t in _split(f))
    tags = torch.cat([data.train_tags, data.test_tags])
    assert {name: int(tags[:, i].sum()) for i, name in enumerate(data.tags.names)} == dict(counted)
    hair = next(g for g in data.tags.groups if g.name == "hair")
    assert hair.always and (tags[:, list(hair.members)].sum(1) == 1).all()
    spec = DataSpec.from_dict(data.spec().to_dict())
    assert spec.tags == data.tags.to_dict()


def _split(field: str) -> list[str]:
    words = field.split()
    return [" ".join(words[:2]), " ".join(words[2:])] if len(words) == 4 else [field]


def test_rare_tags_are_dropped_and_listed(faces, capsys):
    data = load_dataset(str(faces), min_tag_count=8)  # 60 faces: about 3 of each ribbon colour, 30 smiles
    tags = torch.cat([data.train_tags, data.test_tags])
    assert (tags.sum(0) >= 8).all() and all(c < 8 for _, c in data.tags.dropped)
    assert "smile" in data.tags.names and not any(n.endswith("ribbon") for n in data.tags.names)
    err = capsys.readouterr().err
    assert f"{len(data.tags.dropped)} tag(s) on fewer than 8 images dropped" in err and "ribbon" in err


def test_broken_and_untagged_images_are_skipped_and_counted(tmp_path, capsys):
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "4.png").write_bytes(b"not an image")
    (tmp_path / "tags.csv").write_text("0.png,red hair,smile\n1.png,blue hair\n2.png,red hair\n4.png,blue hair\n"
                                       "9.png,red hair\n")
    data = load_dataset(str(tmp_path), min_tag_count=1, image_size=8)
    assert len(data.train) + len(data.test) == 3  # 3.png has no line, 4.png does not decode, 9.png is missing
    err = capsys.readouterr().err
    assert "1 image has no line" in err and "name no image" in err


def test_labels_from_folders_ignores_the_tags_and_tags_can_be_asked_for(faces):
    with pytest.raises(DataError, match="one class"):
        load_dataset(str(faces), labels_from="folders")
    assert load_dataset(str(faces), labels_from="tags", min_tag_count=1).tags is not None


def test_toonfaces_is_drawn_once_into_the_cache(monkeypatch, capsys):
    monkeypatch.setattr(toonfaces, "DEFAULT_N", 20)
    data = load_dataset("toonfaces", image_size=16, min_tag_count=1)
    assert data.name == "toonfaces" and data.train.shape == (18, 3, 16, 16)
    assert "drawing 20" in capsys.readouterr().err
    again = load_dataset("toonfaces", image_size=16, min_tag_count=1)
    assert "drawing" not in capsys.readouterr().err and torch.equal(again.train, data.train)


def test_a_damaged_vocabulary_in_a_checkpoint_is_a_clear_error(faces):
    d = load_dataset(str(faces), min_tag_count=1).spec().to_dict()
    d["tags"]["groups"][0]["members"] = [0, 999]
    with pytest.raises(CheckpointError):
        DataSpec.from_dict(d)
