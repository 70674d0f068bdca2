# `make demo` trains the default VAE on the embedded digits and writes its pictures and metrics;
# `make test` runs the whole suite. Both build the virtual environment they need on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
.PHONY: demo test venv clean

venv: $(VENV)/.installed

# torch==2.13.0 first and exactly: on this project's machines that is the CPU build on disk,
# and a looser pin would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "torch==2.13.0"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

# The main job: a VAE on the 8x8 digits embedded in scikit-learn (no download), then its
# metrics and pictures in runs/demo/. Under a minute of training on 2 CPU cores; one thread,
# because this small a network gains nothing from two and loses much when the cores are busy.
demo: venv
	$(PY) -m vaekit --threads 1 train vae --data digits --epochs 200 --batch-size 64 --lr 2e-3 --eval-every 5 --out runs/demo --overwrite
	$(PY) -m vaekit eval runs/demo --iw-samples 1000
	$(PY) -m vaekit interpolate runs/demo

# Tests read real data from the offline copies beside the checkout unless VAEKIT_DATA_DIR says otherwise.
# Lint first: ruff (style and layout, pyproject's [tool.ruff]) and the layer contracts of docs/architecture.md
# (lint-imports, pyproject's [tool.importlinter]).
# --durations names the slowest tests at the end: the suite should stay near 10 minutes on 2 cores.
test: venv
	$(VENV)/bin/ruff check vaekit tests benchmarks examples
	$(VENV)/bin/ruff format --check vaekit tests benchmarks examples
	$(VENV)/bin/lint-imports
	VAEKIT_DATA_DIR=$${VAEKIT_DATA_DIR:-$(abspath ../shared/data)} $(PY) -m pytest -q --durations=15

clean:
	rm -rf $(VENV) runs
