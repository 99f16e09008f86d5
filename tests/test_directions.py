"""Edit scores on a case with a known answer: codes whose first two values are the tags."""

from types import SimpleNamespace

import pytest
import torch

from genlab import directions
from genlab.data.tags import TagGroup, TagVocab
from genlab.errors import GenlabError
from genlab.latent import find_direction


class Identity:
    """A 'model' whose images are its codes (8 values, all noise)."""

    config = SimpleNamespace(z_dim=8)

    def prior(self, n, generator=None):
        return torch.randn(n, 8, generator=generator)

    def decode(self, codes):
        return codes


class Reader:
    """An 'evaluator': smile is on where code[0] > 0, glasses where code[1] > 0."""

    vocab = TagVocab(names=("smile", "glasses"), groups=(), binary=(0, 1), dropped=(), min_count=1)

    def logits(self, x):
        return 10 * x[:, :2]


def test_an_edit_along_the_attribute_flips_it_and_keeps_the_rest_and_a_random_one_does_not():
    axis = torch.zeros(8)
    axis[0] = 1
    s = directions.edit_scores(Identity(), Reader(), "smile", axis, strength=3.0, n=2000, seed=0)
    # towards the other side by 3: every draw with |z0| < 3 flips (P = 0.9973), glasses never move
    assert 0.99 <= s["flip_rate"] <= 1 and s["preserved"] == {"glasses": 1.0} and s["preservation"] == 1.0
    assert s["random_flip_rate"] < s["flip_rate"] - 0.1 and s["random_preservation"] < 0.95
    assert s["random_preserved"] == {"glasses": s["random_preservation"]}
    assert s["n"] == 2000 and s["strength"] == 3.0 and 900 < s["had_attribute"] < 1100
    by = s["flip_by_before"]  # the draws that had no smile were moved towards it, the others away
    assert set(by) == {"smile", "no smile"} and by["smile"]["n"] == s["had_attribute"]
    assert sum(b["n"] * b["flip_rate"] for b in by.values()) == pytest.approx(2000 * s["flip_rate"])
    alone = directions.edit_scores(Identity(), Reader(), "smile", axis, strength=3.0, n=2000, seed=0, baseline=False)
    assert alone == {k: v for k, v in s.items() if not k.startswith("random_")}  # the same edits, no random move


class LateReader(Reader):
    """A second 'evaluator' of the same tags that sees a smile only where code[0] > 0.5."""

    def logits(self, x):
        return 10 * (x[:, :2] - torch.tensor([0.5, 0.0]))


def test_two_evaluators_read_the_same_edits_each_before_and_after_and_the_first_decides_the_move():
    axis = torch.zeros(8)
    axis[0] = 1
    codes = Identity().prior(2000, torch.Generator().manual_seed(0))
    before, after = directions.edit_states(Identity(), [Reader(), LateReader()], "smile", axis, n=2000, seed=0)
    assert before[0] == ["smile" if z > 0 else "no smile" for z in codes[:, 0]]
    assert before[1] == ["smile" if z > 0.5 else "no smile" for z in codes[:, 0]]
    moved = codes[:, 0] + torch.where(codes[:, 0] > 0, -3.0, 3.0)  # by the first reader's verdict
    assert after == [["smile" if z > 0 else "no smile" for z in moved], ["smile" if z > 0.5 else "no smile" for z in moved]]
    flip = [sum((a == "smile") != (b == "smile") for b, a in zip(was, now)) / 2000 for was, now in zip(before, after)]
    assert flip[0] == directions.edit_scores(Identity(), Reader(), "smile", axis, n=2000, seed=0)["flip_rate"]
    # a draw with 0 < z0 <= 0.5 is moved away from a smile the late reader never saw: no flip for it
    quiet = float(((codes[:, 0] > 0) & (codes[:, 0] <= 0.5)).double().mean())
    assert flip[1] == pytest.approx(flip[0] - quiet, abs=0.01) and quiet > 0.15


class HairReader:
    """Hair is blue where code[2] is large, red where code[1] is; smile rides on red hair: code[0] + code[1]."""

    vocab = TagVocab(names=("blue hair", "red hair", "smile"), groups=(TagGroup("hair", (0, 1), always=False),),
                     binary=(2,), dropped=(), min_count=1)
    path = "known answer"

    def logits(self, x):
        return 10 * torch.stack([x[:, 2], x[:, 1], x[:, 0] + x[:, 1]], 1)


def test_the_flip_rate_is_split_by_what_each_draw_had_before_and_the_misses_by_where_they_stayed():
    vocab = HairReader.vocab
    # rows: blue hair, blue hair, no hair, red hair, no hair -> red hair, blue hair, red hair, no hair, no hair
    before = torch.tensor([[1, 0, 0], [1, 0, 1], [0, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    after = torch.tensor([[0, 1, 0], [1, 0, 1], [0, 1, 1], [0, 0, 0], [0, 0, 0]], dtype=torch.float32)
    flipped = (after[:, 1] > 0) != (before[:, 1] > 0)
    assert directions.flip_by_before(before, after, flipped, 1, vocab) == {
        "blue hair": {"n": 2, "flip_rate": 0.5, "missed_as": {"blue hair": 1}},
        "no hair": {"n": 2, "flip_rate": 0.5, "missed_as": {"no hair": 1}},
        "red hair": {"n": 1, "flip_rate": 1.0, "missed_as": {}}}
    smile = directions.flip_by_before(before, after, (after[:, 2] > 0) != (before[:, 2] > 0), 2, vocab)
    assert smile == {"no smile": {"n": 3, "flip_rate": 1 / 3, "missed_as": {"no smile": 2}},
                     "smile": {"n": 2, "flip_rate": 0.5, "missed_as": {"smile": 1}}}


def test_a_direction_made_orthogonal_to_a_tag_group_leaves_that_group_alone():
    model, net = Identity(), HairReader()
    scored = directions.scored_codes(model, net, 4000, seed=0)
    plain = torch.tensor(directions.compute(model, net, "smile", scored=scored)["vector"])
    record = directions.compute(model, net, "smile", orthogonal_to=("hair",), scored=scored)
    kept = torch.tensor(record["vector"])
    assert float(plain[:2].sum()) / 2**0.5 > 0.95  # the plain SVM normal is (1, 1, 0, ...) / sqrt 2
    assert float(kept[0]) > 0.95 and abs(float(kept[1])) < 0.2 and record["orthogonal_to"] == ["hair"]
    assert record["n_codes"] == 4000 and float(kept.norm()) == pytest.approx(1, abs=1e-5)
    s_plain = directions.edit_scores(model, net, "smile", plain, n=2000)
    s_kept = directions.edit_scores(model, net, "smile", kept, n=2000)
    # along code[0] alone: smile flips where |code[0] + code[1]| < 3 (P = 0.966), hair almost never moves
    assert s_kept["flip_rate"] > 0.93 and s_kept["preserved"]["hair"] > 0.95
    assert s_plain["preserved"]["hair"] < 0.8 < s_plain["flip_rate"]
    with pytest.raises(GenlabError, match="one of the hair tags"):
        directions.compute(model, net, "red hair", orthogonal_to=("hair",), scored=scored)


def test_a_tag_without_a_saved_direction_is_kept_by_its_direction_found_from_the_same_codes():
    model, net = Identity(), HairReader()
    scored = directions.scored_codes(model, net, 4000, seed=0)
    record = directions.compute(model, net, "smile", orthogonal_to=("red hair",), scored=scored)
    kept = torch.tensor(record["vector"])
    codes, logits = scored
    red, _ = find_direction(codes, directions._group_log_probs(logits, 1, net.vocab))  # mostly +code[1], -code[2]
    assert abs(float(kept @ red)) < 1e-5 and record["orthogonal_to"] == ["red hair"]
    assert float(kept[0]) > 0.85 and abs(float(kept[1])) < 0.25  # smile's own axis is what is left
    plain = torch.tensor(directions.compute(model, net, "smile", scored=scored)["vector"])
    assert (directions.edit_scores(model, net, "smile", kept, n=2000)["preserved"]["hair"]
            > directions.edit_scores(model, net, "smile", plain, n=2000)["preserved"]["hair"] + 0.1)
    saved = {"red hair": {"vector": [0.0, 0.0, 1.0] + [0.0] * 5}}  # a saved direction wins over the codes'
    record = directions.compute(model, net, "smile", orthogonal_to=("red hair",), known=saved, scored=scored)
    kept = torch.tensor(record["vector"])
    assert abs(float(kept[2])) < 1e-6 and float(kept[1]) > 0.5


def test_the_jacobian_gram_of_a_tag_matches_its_formula():
    model, net = Identity(), HairReader()
    units = directions._units(net, 0, ("smile",))
    assert units == {"smile": 2}
    gram = directions.sensitivity(model, net, units, n=600, seed=3, chunk=250)["smile"]
    # the same draws as sensitivity's; logits s = 10 (x0 + x1): d log sigmoid(+-s) / dx = +-sigmoid(-+s) 10 (1, 1, 0, ...)
    g = torch.Generator().manual_seed(3 + 7919)
    x = torch.cat([model.prior(k, g) for k in (250, 250, 100)]).double()
    s = 10 * (x[:, 0] + x[:, 1])
    scale = float((100 * (torch.sigmoid(-s) ** 2 + torch.sigmoid(s) ** 2)).mean())
    want = torch.zeros(8, 8, dtype=torch.float64)
    want[:2, :2] = scale
    assert torch.allclose(gram, want, rtol=1e-4, atol=1e-8)


def test_a_direction_that_preserves_a_tag_group_leaves_it_more_alone_the_harder_it_pulls():
    model, net = Identity(), HairReader()
    scored = directions.scored_codes(model, net, 4000, seed=0)
    plain = torch.tensor(directions.compute(model, net, "smile", scored=scored)["vector"])
    grams = directions.sensitivity(model, net, directions._units(net, 2, ("all",)), n=500)
    hair_kept, along_hair = [], []
    for weight in (0.0, 20.0, 1000.0):
        record = directions.compute(model, net, "smile", scored=scored, preserve=("all",), preserve_weight=weight,
                                    grams=grams)
        kept = torch.tensor(record["vector"])
        assert record["preserve"] == ["hair"] and record["preserve_weight"] == weight
        assert float(kept.norm()) == pytest.approx(1, abs=1e-5)
        s = directions.edit_scores(model, net, "smile", kept, n=2000)
        assert s["flip_rate"] > 0.93
        hair_kept.append(s["preserved"]["hair"])
        along_hair.append(float(kept[1:3].norm()))
    # weight 0 is the SVM's normal (1, 1, 0, ...) / sqrt 2; hair is read along code[1] and code[2], so
    # the harder the pull, the less of the move is there, towards code[0] alone (the orthogonal answer)
    assert torch.allclose(torch.tensor(directions.compute(model, net, "smile", scored=scored, preserve=("hair",),
                                                          preserve_weight=0.0, grams=grams)["vector"]), plain)
    assert along_hair[0] > 0.6 > along_hair[1] > along_hair[2] and along_hair[2] < 0.005
    assert hair_kept[0] < 0.8 < hair_kept[1] < hair_kept[2] and hair_kept[2] > 0.99
    for name, message in (("smile", "the tag or group it changes"), ("hat", "none of them")):
        with pytest.raises(GenlabError, match=message):
            directions.compute(model, net, "smile", scored=scored, preserve=(name,))
    with pytest.raises(GenlabError, match="the tag or group it changes"):  # a tag of its own group names the group
        directions.compute(model, net, "red hair", scored=scored, preserve=("blue hair",))


def test_the_mean_gradient_of_a_tag_matches_its_formula():
    model, net = Identity(), HairReader()
    codes = directions.prior_codes(model, 600, seed=1)
    # smile's logit is 10 (x0 + x1): d log sigmoid / dx = 10 sigmoid(-s) (1, 1, 0, ...) at every draw
    smile = directions.mean_gradient(model, net, 2, codes, chunk=250)
    assert torch.allclose(smile, torch.tensor([1, 1, 0, 0, 0, 0, 0, 0]) / 2**0.5, atol=1e-6)
    # red hair is one of a group with a 'none' class: softmax(10 x2, 10 x1, 0), so its log-probability
    # grows with x1 and falls with x2, by the mean of (1 - p_red) and of p_blue
    x = codes.double()
    p = torch.softmax(10 * torch.stack([x[:, 2], x[:, 1], torch.zeros(600, dtype=torch.float64)], 1), 1)
    want = torch.zeros(8, dtype=torch.float64)
    want[1], want[2] = (1 - p[:, 1]).mean(), -p[:, 0].mean()
    red = directions.mean_gradient(model, net, 1, codes, chunk=250)
    assert torch.allclose(red.double(), want / want.norm(), atol=1e-5)
    with pytest.raises(GenlabError, match="no gradient to follow"):  # saturated: 10 sigmoid(-500) is 0 in fp32
        directions.mean_gradient(model, Reader(), 0, torch.full((4, 8), 50.0))


def test_a_gradient_direction_flips_its_tag_and_is_kept_by_the_weight_that_held_out_edits_choose():
    model, net = Identity(), HairReader()
    codes = directions.prior_codes(model, 2000, seed=0)
    grams = directions.sensitivity(model, net, directions._units(net, 2, ("all",)), n=500)
    record = directions.compute(model, net, "smile", method="gradient", scored=(codes, None), preserve=("all",),
                                keep=0.95, grams=grams, edit_n=1000)
    assert record["method"] == "gradient" and "svm_accuracy" not in record and record["keep"] == 0.95
    tried = record["held_out"]["tried"]
    assert record["held_out"]["seed"] == directions.HELD_OUT and record["held_out"]["edits"] == 1000
    # the first weight (in KEEP_WEIGHTS' order) whose held-out edits keep hair 0.95 of the time
    assert [t[0] for t in tried] == list(directions.KEEP_WEIGHTS[:len(tried)])
    assert tried[-1][0] == record["preserve_weight"] > 0 and tried[-1][2] >= 0.95 > max(t[2] for t in tried[:-1])
    assert tried[0][2] < 0.8  # weight 0: the mean gradient (1, 1, 0, ...) / sqrt 2 moves hair
    s = directions.edit_scores(model, net, "smile", torch.tensor(record["vector"]), n=2000)
    assert s["flip_rate"] > 0.93 and s["preserved"]["hair"] > 0.93
    base, hair = torch.tensor([1.0, 1, 0, 0, 0, 0, 0, 0]) / 2**0.5, grams["hair"]
    weight, tried = directions.choose_weight(model, net, "smile", lambda w: directions.preserving(base, hair, w), 1.0,
                                             weights=(0.0, 2.0, 1.0), n=500)
    assert [t[0] for t in tried] == [0.0, 2.0, 1.0] and all(t[2] < 1 for t in tried)
    assert weight == 2.0 and tried[1][2] > tried[2][2] > tried[0][2]  # none keeps all: the one that keeps most
    with pytest.raises(GenlabError, match="--method is one of svm, gradient, learned"):
        directions.compute(model, net, "smile", method="pca", scored=(codes, None))


def test_the_edit_losses_of_a_learned_direction_match_their_formula():
    model, net = Identity(), HairReader()
    codes = torch.tensor([[0.2, -0.1, 0.3, 0, 0, 0, 0, 0], [-0.4, -0.1, -0.2, 0, 0, 0, 0, 0],
                          [0.1, 0.3, 0.1, 0, 0, 0, 0, 0]])
    units = directions._units(net, 2, ("all",))
    pool = {"codes": codes, **{k: v for k, v in directions.edit_pool(model, net, 2, units, n=3).items() if k == "units"}}
    logits = net.logits(codes)
    has = logits[:, 2] > 0  # smile: rows 0 and 2
    verdicts = {"hair": directions._unit_log_probs(logits, units["hair"]).argmax(1)}
    direction = torch.tensor([1.0, 1, 0, 0, 0, 0, 0, 0]) / 2**0.5
    flip, keep = directions.edit_losses(model, net, 2, codes, has, verdicts, pool["units"], direction, 0.5)
    x = codes.double() + torch.where(has, -0.5, 0.5).double()[:, None] * direction.double()  # towards/away from smile
    s = 10 * (x[:, 0] + x[:, 1])
    want_flip = -torch.where(has, torch.nn.functional.logsigmoid(-s), torch.nn.functional.logsigmoid(s)).mean()
    hair = torch.log_softmax(10 * torch.stack([x[:, 2], x[:, 1], torch.zeros(3, dtype=torch.float64)], 1), 1)
    want_keep = -hair[torch.arange(3), verdicts["hair"]].mean()
    assert verdicts["hair"].tolist() == [0, 2, 1]  # blue, none, red before the edit
    assert float(flip) == pytest.approx(float(want_flip), rel=1e-5)
    assert float(keep) == pytest.approx(float(want_keep), rel=1e-5)
    flip_alone, nothing = directions.edit_losses(model, net, 2, codes, has, {}, {}, direction, 0.5)
    assert float(flip_alone) == pytest.approx(float(flip)) and float(nothing) == 0


class Tiny(torch.nn.Module):
    """A 'model' of real parameters: its images are a linear map of its 8 noise values."""

    config = SimpleNamespace(z_dim=8)

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 8)
        with torch.no_grad():
            self.net.weight.copy_(torch.eye(8))
            self.net.bias.zero_()

    def prior(self, n, generator=None):
        return torch.randn(n, 8, generator=generator)

    def decode(self, codes):
        return self.net(codes)


class TinyReader(torch.nn.Module):
    vocab = HairReader.vocab

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(8, 3, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(10 * torch.tensor([[0.0, 0, 1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0],
                                                      [1, 1, 0, 0, 0, 0, 0, 0]]))

    def logits(self, x):
        return self.head(x)


def test_learning_a_direction_moves_the_direction_alone_and_each_term_pulls_on_it():
    model, net = Tiny(), TinyReader()
    before = {k: v.clone() for k, v in [*model.state_dict().items(), *net.state_dict().items()]}
    units = directions._units(net, 2, ("all",))
    pool = directions.edit_pool(model, net, 2, units, n=200)
    start = torch.zeros(8)
    start[4] = 1  # smile and hair are read along codes 0, 1 and 2: this move changes neither
    for term in (0, 1):  # each term (flip, keep) has a gradient on the direction
        v = start.clone().requires_grad_(True)
        with torch.enable_grad():
            losses = directions.edit_losses(model, net, 2, pool["codes"], pool["has"], pool["verdicts"], units, v, 3.0)
            (grad,) = torch.autograd.grad(losses[term], v)
        assert float(grad.norm()) > 0
    learned = directions.learn(model, net, 2, start, pool, 1.0, steps=100)
    assert all(p.grad is None for p in [*model.parameters(), *net.parameters()])  # G and the evaluator: no gradient
    after = {k: v for k, v in [*model.state_dict().items(), *net.state_dict().items()]}
    assert all(torch.equal(before[k], after[k]) for k in before)  # nor any change
    assert float(learned.norm()) == pytest.approx(1, abs=1e-5) and float(learned[0]) > 0.6


def test_a_learned_direction_flips_its_tag_and_keeps_the_others_the_more_the_heavier_their_weight():
    model, net = Identity(), HairReader()
    codes = directions.prior_codes(model, 2000, seed=0)
    flips, hair_kept, along_hair = [], [], []
    for weight in (0.0, 1.0, 8.0):
        record = directions.compute(model, net, "smile", method="learned", scored=(codes, None), preserve=("all",),
                                    preserve_weight=weight)
        v = torch.tensor(record["vector"])
        s = directions.edit_scores(model, net, "smile", v, n=2000, baseline=False)
        flips.append(s["flip_rate"])
        hair_kept.append(s["preserved"]["hair"])
        along_hair.append(float(v[1:3].norm()))
        assert record["method"] == "learned" and record["preserve_weight"] == weight and "jacobian_codes" not in record
        assert record["learned"] == {"strength": 3.0, "pool": directions.LEARN_POOL, "batch": directions.LEARN_BATCH,
                                     "pool_seed": directions.LEARN_SEED, "steps": directions.LEARN_STEPS,
                                     "lr": directions.LEARN_LR}
    # weight 0 keeps the mean gradient (1, 1, 0, ...) / sqrt 2, whose edits already all flip; the keep
    # term takes the move off code[1] and code[2], where hair is read, to code[0] alone
    assert along_hair[0] > 0.6 > 0.1 > along_hair[1] > along_hair[2]
    assert hair_kept[0] < 0.5 < 0.95 < hair_kept[1] < hair_kept[2] and min(flips) > 0.95
    # from a move that changes nothing, the flip term alone finds the tag's axis (1, 1, 0, ...) / sqrt 2
    pool = directions.edit_pool(model, net, 2, {}, n=2000)
    start = torch.zeros(8)
    start[5] = 1
    found = directions.learn(model, net, 2, start, pool, 0.0, steps=300, lr=0.02)
    assert float(found[:2].sum()) / 2**0.5 > 0.9
    assert directions.edit_scores(model, net, "smile", found, n=2000, baseline=False)["flip_rate"] > 0.95
    record = directions.compute(model, net, "smile", method="learned", scored=(codes, None), preserve=("all",),
                                keep=0.95, edit_n=1000)
    tried = record["held_out"]["tried"]  # its own weights, in order, the first to keep 0.95 wins
    assert [t[0] for t in tried] == list(directions.LEARN_WEIGHTS[:len(tried)])
    assert tried[-1][0] == record["preserve_weight"] > 0 and tried[-1][2] >= 0.95 > max(t[2] for t in tried[:-1])
