# seqsweep — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
JOB    ?= jobs/quickstart.yaml
MODEL  ?= models:/quickstart@champion
INPUT  ?= data/generated/quickstart
OUT    ?= predictions.csv
NAME   ?= quickstart
VERSION ?=
PORT   ?=
# test files run two at a time (pytest-xdist); TEST_WORKERS=0 runs them one after another
TEST_WORKERS ?= 2
STAMP  := $(VENV)/.seqsweep-installed
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.DEFAULT_GOAL := help
.PHONY: help install sweep test test-deps ui dashboard promote predict serve explain bench bench-quick bench-jund bench-tasks docs clean

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: JOB=$(JOB) MODEL=$(MODEL) INPUT=$(INPUT) OUT=$(OUT) NAME=$(NAME) VERSION=<n>"

install: $(STAMP) ## create .venv and install seqsweep with its dependencies (idempotent)

# torch first, from the CPU build when there is no NVIDIA GPU: otherwise pip would pull a multi-GB CUDA build.
# `torch==2.13.0+cpu` matches the CPU wheel on local disk (this workplace) or PyTorch's CPU index.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@if command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install -q "torch==2.13.0"; \
	else \
	  $(BIN)/python -m pip install -q "torch==2.13.0+cpu" 2>/dev/null || \
	  $(BIN)/python -m pip install -q "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu; \
	fi 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e ".[test,dashboard]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import seqsweep, ray, optuna, mlflow, torch; print('seqsweep installed: torch', torch.__version__, 'ray', ray.__version__, 'optuna', optuna.__version__, 'mlflow', mlflow.__version__)"
	@touch $@

sweep: install ## run a sweep: make sweep [JOB=jobs/quickstart.yaml]
	$(BIN)/seqsweep sweep $(JOB)

test-deps: ## install Debian's chromium for the browser test (needs root; skipped otherwise)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the UI test will be skipped"; \
	  else echo "chromium missing and not root: the UI test will be skipped"; fi; }

test: install test-deps ## run the whole test suite (unit + end-to-end with real Ray, MLflow, registry, browser)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

ui: install ## the MLflow UI over the local store on http://127.0.0.1:5000
	$(BIN)/seqsweep ui $(if $(PORT),--port $(PORT))

dashboard: install ## optuna-dashboard over the sweeps' studies on http://127.0.0.1:8080
	$(BIN)/seqsweep dashboard $(if $(PORT),--port $(PORT))

promote: install ## move `champion` to a version: make promote NAME=quickstart VERSION=3 [FORCE=1]
	@test -n "$(VERSION)" || { echo "usage: make promote NAME=<model> VERSION=<n> [FORCE=1]"; exit 2; }
	$(BIN)/seqsweep promote $(NAME) $(VERSION) $(if $(FORCE),--force)

predict: install ## predict a file: make predict MODEL=models:/quickstart@champion INPUT=seqs.fa OUT=preds.csv
	$(BIN)/seqsweep predict --model $(MODEL) --input $(INPUT) --out $(OUT)

explain: install ## what a version learned: make explain MODEL=models:/quickstart@champion [DATA=seqs.fa] [VARIANTS=v.csv]
	$(BIN)/seqsweep explain $(MODEL) $(if $(DATA),--data $(DATA)) $(if $(VARIANTS),--variants $(VARIANTS)) $(if $(N),--n $(N))

serve: install ## serve the champion over HTTP on http://127.0.0.1:5001 (POST /invocations)
	$(BIN)/seqsweep serve --model $(MODEL) $(if $(PORT),--port $(PORT))

bench-quick: install ## the quick benchmark set (<= 5 min); writes bench/results/latest.json
	$(BIN)/python bench/run.py --quick

bench: install ## the full benchmark set; writes bench/results/latest.json
	$(BIN)/python bench/run.py

bench-jund: install ## JUND search quality: the anchors, the latest `make sweep JOB=jobs/jund.yaml`, best trial vs top-k vs refit, held-out split noise
	$(BIN)/python bench/jund_quality.py anchors
	$(BIN)/python bench/jund_quality.py sweep
	$(BIN)/python bench/jund_quality.py compare
	$(BIN)/python bench/jund_quality.py splits

bench-tasks: install ## the task jobs' champions against their baselines (after `make sweep JOB=jobs/<job>.yaml`)
	$(BIN)/python bench/tasks_quality.py

docs: install ## regenerate docs/jobs.md's job-keys table and docs/performance.md (from bench/results/latest.json)
	$(BIN)/python docs/generate.py

clean: ## remove caches, generated data and genome token caches; mlruns/ only with CONFIRM_DELETE_MLRUNS=yes
	rm -rf .pytest_cache build platform/*.egg-info data/generated data/genomes
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
	@if [ "$(CONFIRM_DELETE_MLRUNS)" = yes ]; then echo "deleting mlruns/ content"; \
	  find mlruns -mindepth 1 -not -name .gitkeep -delete; \
	else echo "mlruns/ kept (set CONFIRM_DELETE_MLRUNS=yes to delete every run, model and Tune state)"; fi
