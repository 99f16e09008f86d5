"""Edit scores on a case with a known answer: codes whose first two values are the tags."""

import torch

from genlab import directions
from genlab.data.tags import TagVocab


class Identity:
    """A 'model' whose images are its codes (8 values)."""

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
    assert s["n"] == 2000 and s["strength"] == 3.0 and 900 < s["had_attribute"] < 1100
