"""The in-memory batch stream: epochs, dynamic binarisation, and an exactly resumable position."""

import torch

from genlab.data.loader import BatchStream


def data(n=10):
    return torch.linspace(0, 1, n).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous(), torch.arange(n)


def test_each_epoch_visits_every_example_once_and_drops_the_remainder():
    x, y = data(10)
    s = BatchStream(x, y, 3, seed=0)
    seen = torch.cat([next(s).y for _ in range(3)])
    assert sorted(seen.tolist()) == sorted(set(seen.tolist())) and len(seen) == 9
    assert s.epoch == 0 and next(s).x.shape == (3, 1, 2, 2) and s.epoch == 1


def test_state_dict_resumes_the_exact_sequence():
    x, y = data(10)
    a = BatchStream(x, y, 4, seed=3, binarize=True)
    for _ in range(5):
        next(a)
    b = BatchStream(x, y, 4, seed=99, binarize=True)
    b.load_state_dict(a.state_dict())
    for _ in range(7):
        ba, bb = next(a), next(b)
        assert torch.equal(ba.x, bb.x) and torch.equal(ba.y, bb.y)


def test_dynamic_binarisation_redraws_every_time():
    x = torch.full((4, 1, 8, 8), 0.5)
    s = BatchStream(x, None, 4, seed=0, binarize=True)
    first, second = next(s).x, next(s).x
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(first, second)  # same images, fresh Bernoulli draws
    assert abs(torch.cat([next(s).x for _ in range(50)]).mean().item() - 0.5) < 0.02


def test_ranks_of_a_distributed_job_take_disjoint_slices_of_one_global_batch():
    x, y = data(12)
    ranks = [BatchStream(x, y, 3, seed=5, rank=r, world_size=2) for r in range(2)]
    single = BatchStream(x, y, 6, seed=5)
    for _ in range(4):
        parts = [next(s).y for s in ranks]
        assert not set(parts[0].tolist()) & set(parts[1].tolist())
        assert torch.equal(torch.cat(parts), next(single).y)


def test_binarised_ranks_keep_the_same_permutation():
    x = torch.rand(12, 1, 2, 2)
    y = torch.arange(12)
    ranks = [BatchStream(x, y, 3, seed=5, rank=r, world_size=2, binarize=True) for r in range(2)]
    for _ in range(6):  # crosses epochs: the permutations must stay in step
        parts = [next(s).y for s in ranks]
        assert not set(parts[0].tolist()) & set(parts[1].tolist())
