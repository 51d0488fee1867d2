# talentmatch — the two commands are `make demo` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= data/demo
DEMO_TALENTS ?= 5000
DEMO_DUPLICATES ?= 0
DEMO_RELATIONS ?= 0.02
TEST_WORKERS ?= auto

.PHONY: install system-deps demo test test-fast lint notebooks-strip bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# PostgreSQL server binaries for the store tests, chromium and a CJK font for the console's browser tests (Debian's
# packages; each installed only when missing).
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL (Debian packages) for the store tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
	@{ test -x /usr/bin/chromium && fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei"; } || { \
	  echo "installing chromium and fonts-wqy-microhei (Debian packages) for the console's browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null; }

demo: install
	@echo 'demo: generating the world, importing it and training the champion, then serving it (the first run encodes dense vectors: a few minutes)'
	$(BIN)/talentmatch world generate $(DEMO_DIR) --talents $(DEMO_TALENTS) --seed 7 --duplicates $(DEMO_DUPLICATES) --relations $(DEMO_RELATIONS)
	$(BIN)/talentmatch db upgrade
	$(BIN)/talentmatch db import $(DEMO_DIR)
	$(BIN)/talentmatch db stats
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/talentmatch train --world $(DEMO_DIR)
	@echo "demo recruiter key: $$($(BIN)/talentmatch keys create --role recruiter --label demo)"
	@echo "serving the demo world: http://127.0.0.1:8000/console (the console: sign in with the key above), /docs (API docs), /healthz, /metrics — Ctrl-C to stop"
	$(BIN)/talentmatch serve

test: install system-deps
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope

test-fast: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope -m "not slow and not postgres"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

# Notebooks are committed without outputs (tests/test_notebooks.py checks): strip them before `git add`.
notebooks-strip: install
	$(BIN)/nbstripout notebooks/*.ipynb

# `make bench` runs every benchmark (the scale bench at 10k, 100k and 1M talents: hours on 2 cores); `make bench
# QUICK=1` only the scale bench at 10k and 100k (under 10 minutes once the dense vectors are cached); BENCH=NAME… picks.
bench: install
ifdef QUICK
	BENCH_SIZES=10000,100000 $(BIN)/python -m bench $(or $(BENCH),scale)
else
	$(BIN)/python -m bench $(BENCH)
endif

clean:
	rm -rf $(VENV) .pytest_cache bench/results
