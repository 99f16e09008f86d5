"""Tiny configs and data specs the shared model suite runs every registered model at."""

import dataclasses

import torch

from genlab.data.dataset import DataSpec, Dataset
from genlab.data.loader import BatchStream

# Every registered model needs an entry here (test_common checks that).
TINY = {
    "ae": [dict(net="mlp", hidden=(16,), latent_dim=3), dict(net="conv", width=4, latent_dim=3)],
    "vae": [dict(net="mlp", hidden=(16,), latent_dim=3),
            dict(net="conv", width=4, latent_dim=3, likelihood="gaussian", learn_sigma=True)],
    "gan": [dict(g_hidden=(16,), d_hidden=(16,), z_dim=4), dict(g_hidden=(16,), d_hidden=(16,), z_dim=4, pack=2, ema=0.9),
            dict(net="dcgan", ngf=4, ndf=4, z_dim=4, loss="hinge")],
    "dcgan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, loss="minimax", ema=0.5),
              dict(ngf=4, ndf=4, z_dim=4, mapping=2, mapping_width=8, ema=0.5)],
    "lsgan": [dict(ngf=4, ndf=4, z_dim=4)],
    "wgan": [dict(ngf=4, ndf=4, z_dim=4, d_steps=2)],
    "wgan-gp": [dict(ngf=4, ndf=4, z_dim=4, d_steps=2, pack=2)],
    "cgan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, d_condition="concat", loss="wgan-gp", pack=2),
             dict(net="mlp", g_hidden=(16,), d_hidden=(16,), z_dim=4, d_single=())],
    "cvae": [dict(net="mlp", hidden=(16,), latent_dim=3), dict(net="conv", width=4, latent_dim=3)],
    "acgan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, class_loss_on_fakes=False, loss="hinge")],
    "bigan": [dict(ngf=4, ndf=4, z_dim=4, joint_hidden=8), dict(ngf=4, ndf=4, z_dim=4, joint_hidden=8, stochastic_encoder=True),
              dict(net="mlp", g_hidden=(16,), d_hidden=(16,), z_dim=2, d_single=(), joint_hidden=8)],
    "infogan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, continuous=0, info_updates_trunk=False),
                dict(net="mlp", g_hidden=(16,), d_hidden=(16,), z_dim=4, d_single=(), categories=3, continuous=1)],
    "sgan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, feature_matching=False, d_ema=0.5),
             dict(net="mlp", g_hidden=(16,), d_hidden=(16,), z_dim=4, d_single=(), supervised_only=True)],
}
# models that learn from a label budget: trained on tiny_images with the labels of the first LABELLED kept
LABELLED = 16

# the cases above that also run on 2-D points (MLP networks, no labels)
ON_POINTS = {"ae": [0], "vae": [0], "gan": [0, 1], "bigan": [2]}
# tag-conditioned cases, on tiny_tagged
ON_TAGS = {"cgan": [dict(ngf=4, ndf=4, z_dim=4), dict(ngf=4, ndf=4, z_dim=4, d_condition="tile", mismatch=True),
                    dict(ngf=4, ndf=4, z_dim=4, d_condition="concat", loss="hinge", mismatch=True),
                    dict(ngf=4, ndf=4, z_dim=4, loss="wgan-gp", d_steps=2)],
           "acgan": [dict(ngf=4, ndf=4, z_dim=4)]}

IMAGE_SPEC = DataSpec(kind="image", shape=(1, 8, 8), num_classes=10)
POINT_SPEC = DataSpec(kind="points", shape=(2,), center=(0.0, 0.0), scale=1.0)


def tiny_images(n: int = 64, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Dataset(name="tiny", kind="image", train=x, test=x[:16], train_labels=y, test_labels=y[:16],
                   num_classes=10)


def tiny_points(n: int = 64, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g) + 3 * torch.randint(0, 2, (n, 1), generator=g)
    return Dataset(name="tiny-points", kind="points", train=x, test=x[:16])


def tag_lists(n: int, seed: int = 0) -> list[list[str]]:
    """Random tags: one hair colour of 3 always, a ribbon of 2 colours or none, smile and glasses."""
    import random

    rng = random.Random(seed)
    return [[f"{rng.choice(['red', 'blue', 'green'])} hair"]
            + ([f"{rng.choice(['red', 'blue'])} ribbon"] if rng.random() < 0.5 else [])
            + [t for t in ("smile", "glasses") if rng.random() < 0.5] for _ in range(n)]


def tiny_tagged(n: int = 64, seed: int = 0) -> Dataset:
    from genlab.data.tags import build_vocab

    lists = tag_lists(n, seed)
    vocab = build_vocab(lists, min_count=1)
    hot = torch.from_numpy(vocab.multi_hot(lists)).float()
    x = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return Dataset(name="tiny-tagged", kind="image", train=x, test=x[:16], train_tags=hot, test_tags=hot[:16],
                   tags=vocab)


TAG_SPEC = tiny_tagged().spec()


def tiny_data(kind: str) -> Dataset:
    return {"image": tiny_images, "points": tiny_points, "tags": tiny_tagged}[kind]()


def spec_for(cls, kind: str) -> DataSpec:
    if cls.labelled_stream:
        return dataclasses.replace(IMAGE_SPEC, labels=LABELLED)
    return {"image": IMAGE_SPEC, "points": POINT_SPEC, "tags": TAG_SPEC}[kind]


def stream_for(cls, seed: int = 0, kind: str = "image", batch: int = 8) -> BatchStream:
    """The batch stream a model trains on; with its labelled stream when it asks for one."""
    data = tiny_data(kind)
    s = BatchStream(data.train, data.train_targets, batch, seed=seed)
    if cls.labelled_stream:
        hidden = data.train_labels.clone()
        hidden[LABELLED:] = -1
        s = BatchStream(data.train, hidden, batch, seed=seed)
        s.labelled = BatchStream(data.train[:LABELLED], data.train_labels[:LABELLED], batch, seed=seed + 1)
    return s
