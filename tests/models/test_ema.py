"""genlab's EMA of G: the same numbers as torch's AveragedModel, bit for bit, without its counter."""

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genlab.models.ema import EMA


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def test_ema_equals_averaged_model_bit_for_bit():
    g = net()
    ours, theirs = EMA(g, 0.9), AveragedModel(g, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = torch.optim.SGD(g.parameters(), lr=0.1)
    for step in range(6):
        g(torch.randn(8, 3)).pow(2).mean().backward()  # also moves the batch-norm statistics
        opt.step()
        opt.zero_grad()
        ours.update(g, first=step == 0)
        theirs.update_parameters(g)
    a, b = ours.module.state_dict(), theirs.module.state_dict()
    floats = [k for k in a if a[k].is_floating_point()]
    assert floats and all(torch.equal(a[k], b[k]) for k in floats)
    assert not torch.equal(a["0.weight"], g.state_dict()["0.weight"])  # an average, not a copy
    assert int(a["1.num_batches_tracked"]) == 6


def test_ema_has_no_device_counter_and_reads_old_checkpoints():
    g = net()
    ema = EMA(g, 0.99)
    assert "n_averaged" not in dict(ema.named_buffers())
    assert not any(p.requires_grad for p in ema.parameters())
    from genlab.training.trainer import load_state_dict_strict

    holder = nn.Module()
    holder.ema_generator = ema
    old = {f"ema_generator.module.{k}": v for k, v in g.state_dict().items()}
    old["ema_generator.n_averaged"] = torch.tensor(7)  # written by AveragedModel
    load_state_dict_strict(holder, old, "old run")
    assert torch.equal(ema.module[0].weight, g[0].weight)
