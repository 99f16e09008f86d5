# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: demo test setup data clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) data

# Fashion-MNIST from Debian's package where apt works; without it genlab downloads on first use.
data:
	@if [ ! -f $(FMNIST) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
		|| echo "note: could not install dataset-fashion-mnist; genlab will download Fashion-MNIST when needed"; \
	fi

demo: setup
	rm -rf runs/demo
	$(VENV)/bin/genlab train vae --data fashion-mnist --out runs/demo --steps 6000 \
		train.sample_every=2000 train.checkpoint_every=2000 train.log_every=200
	$(VENV)/bin/genlab eval runs/demo --k 100 --max-examples 2000

test: setup
	$(PY) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
