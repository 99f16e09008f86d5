"""genlab: deep generative models (auto-encoders, VAEs, GANs) to train, sample, evaluate and
understand, on PyTorch.

    import genlab
    model = genlab.train("vae", "digits", steps=2000)
    model = genlab.load("runs/vae-digits")
"""

__version__ = "0.1.0"
__all__ = ["__version__", "load", "train"]


def __getattr__(name: str):  # import the API (and torch) only when it is used
    if name in ("train", "load"):
        from genlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'genlab' has no attribute {name!r}")
