"""A folder of tiny real runs, one of each kind the explorer shows, trained once per test session."""

import pytest

TINY_RUNS = {  # name -> (model, data, overrides)
    "vae": ("vae", "digits", ["net=mlp", "hidden=[16]", "latent_dim=3"]),
    "ae": ("ae", "digits", ["net=mlp", "hidden=[16]", "latent_dim=3"]),
    "gan-ring8": ("gan", "ring8", ["g_hidden=[16]", "d_hidden=[16]", "z_dim=4"]),
    "dcgan": ("dcgan", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "cgan": ("cgan", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "infogan": ("infogan", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "bigan": ("bigan", "digits", ["ngf=4", "ndf=4", "z_dim=4", "joint_hidden=8"]),
    "acgan": ("acgan", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "cvae": ("cvae", "digits", ["net=mlp", "hidden=[16]", "latent_dim=3"]),
    "sgan": ("sgan", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "wgan-gp": ("wgan-gp", "digits", ["ngf=4", "ndf=4", "z_dim=4"]),
    "faces/cgan-tags": ("cgan", "FACES", ["ngf=4", "ndf=4", "z_dim=4"]),
}


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    import genlab
    from genlab.data import toonfaces

    root = tmp_path_factory.mktemp("explore-runs")
    with pytest.MonkeyPatch.context() as mp:  # as tests/conftest.py isolates each test: no real cache, one thread
        mp.setenv("GENLAB_CACHE", str(tmp_path_factory.mktemp("explore-cache")))
        mp.setenv("GENLAB_DATA_URL", "http://127.0.0.1:9/unreachable/")
        mp.setenv("GENLAB_THREADS", "1")
        faces = toonfaces.generate(root.parent / "explore-faces", n=48, workers=1)
        for name, (model, data, overrides) in TINY_RUNS.items():
            extra = {"image_size": 16, "min_tag_count": 1} if data == "FACES" else {"labels": 20} if model == "sgan" else {}
            genlab.train(model, str(faces) if data == "FACES" else data, steps=4, batch_size=16, out=root / name,
                         progress=False, tensorboard=False, sample_every=0, overrides=overrides, **extra)
    return root
