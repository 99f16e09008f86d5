import os

import pytest
import torch

# Tests run on the CPU with one thread: their networks are tiny, and one thread per process never
# oversubscribes the two cores. They never touch a real cache or the network.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("genlab-cache")
    monkeypatch.setenv("GENLAB_CACHE", str(cache))
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    monkeypatch.setenv("GENLAB_DATA_URL", "http://127.0.0.1:9/unreachable/")
    monkeypatch.setenv("GENLAB_THREADS", "1")  # as above, for what genlab.train and the CLI choose
    yield


FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
has_fmnist = os.path.isfile(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
