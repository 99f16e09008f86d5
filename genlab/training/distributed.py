"""Data-parallel training across processes with PyTorch's own engine (torchrun + torch.distributed).

    torchrun --standalone --nproc_per_node 4 -m genlab train dcgan --data DIR --out runs/x

Each process (rank) takes its own slice of every global batch (genlab.data.loader.BatchStream) and
draws its own noise; before every optimizer step the gradients are averaged over the ranks. That is
the update of DistributedDataParallel (Li et al. 2020, https://arxiv.org/abs/2006.15704) with one
bucket and no overlap of communication with the backward pass, applied by the trainer to whatever
optimizers a model returns: the models own their networks and training steps (several per step for
a GAN, with parts frozen), so genlab averages gradients at the optimizers rather than wrapping each
network. The weights start equal (broadcast from rank 0) and stay equal, because every rank applies
the same averaged gradient. Batch-norm running statistics are each rank's own between checkpoints
and rank 0's from each checkpoint on (DDP's broadcast_buffers does this every forward pass).
Only rank 0 writes files; checkpoints hold every rank's random state, so resume stays bit-exact.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from genlab.errors import ConfigError
from genlab.training.device import rank_and_world_size


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True inside an initialised process group of more than one rank."""
    return rank_and_world_size()[1] > 1


def setup(device: str) -> tuple[str, bool]:
    """Join the process group torchrun describes in the environment, if any.

    Returns the device name this rank should use (``cuda`` becomes ``cuda:LOCAL_RANK``) and
    whether this call created the group (so the caller can tear it down)."""
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return device, False
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("mps"):
        raise ConfigError("multi-process training needs cpu or cuda devices; MPS has no collective backend")
    wants_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if wants_cuda:  # one GPU a process
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device} requested but CUDA is not available here; use --device cpu")
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices exist")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    elif device == "auto":
        device = "cpu"
    dist.init_process_group(backend="nccl" if wants_cuda else "gloo")
    return device, True


def finish(created: bool) -> None:
    """After a run ends well on every rank: wait for all of them, so no rank leaves the group while
    another's gloo threads still talk to it (that aborts the process: 'terminate called without an
    active exception')."""
    if created and dist.is_initialized():
        dist.barrier()


def teardown(created: bool) -> None:
    if created and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module) -> None:
    """Every parameter and buffer of ``module`` set to rank 0's values."""
    if active():
        with torch.no_grad():
            for t in module.state_dict().values():
                dist.broadcast(t, src=0)


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (any picklable value)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    if active():
        t = t.clone()
        dist.all_reduce(t)
        t /= dist.get_world_size()
    return t


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank if ``flag`` is True on any."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def average_gradients(optimizer: torch.optim.Optimizer, *_args, **_kwargs) -> None:
    """Optimizer step pre-hook: each gradient becomes its mean over the ranks, in one all-reduce
    per dtype and no host sync. As with DDP (without find_unused_parameters), a step must give a
    parameter a gradient on every rank or on none: genlab's models use the same graph everywhere."""
    if not active():
        return
    world = dist.get_world_size()
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    for dtype in sorted({p.dtype for p in params}, key=str):
        ps = [p for p in params if p.dtype == dtype]
        flat = torch.cat([p.grad.reshape(-1) for p in ps])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for p in ps:
            p.grad.copy_(flat[offset:offset + p.numel()].view_as(p.grad))
            offset += p.numel()


def attach(optimizers: dict[str, torch.optim.Optimizer]) -> None:
    """Average gradients over the ranks before every step of these optimizers."""
    if active():
        for opt in optimizers.values():
            opt.register_step_pre_hook(average_gradients)
