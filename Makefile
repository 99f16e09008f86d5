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

# Debian's Fashion-MNIST and Chromium (for the explorer's browser tests) where apt works; without
# them genlab downloads Fashion-MNIST on first use and the browser tests are skipped.
PACKAGES = $(if $(wildcard $(FMNIST)),,dataset-fashion-mnist) $(if $(wildcard /usr/bin/chromium),,chromium)
data:
	@if [ -n "$(strip $(PACKAGES))" ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq $(PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(PACKAGES) >/dev/null 2>&1)) \
		|| echo "note: could not install $(strip $(PACKAGES)); genlab downloads Fashion-MNIST when needed, browser tests are skipped"; \
	fi

demo: setup
	rm -rf runs/demo
	$(VENV)/bin/genlab train vae --data fashion-mnist --out runs/demo --steps 6000 \
		train.sample_every=2000 train.checkpoint_every=2000 train.log_every=200
	$(VENV)/bin/genlab eval runs/demo --k 100 --max-examples 2000

# Two test processes (pytest-xdist), one per core of this machine; every test uses one thread.
# The tests that assert a speed run after them, one at a time, on a machine with nothing else to do.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not timing"
	$(PY) -m pytest -m timing

clean:
	rm -rf $(VENV) runs .pytest_cache
