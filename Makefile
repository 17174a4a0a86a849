# One task runner for people and CI. `make demo` and `make test` work on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests and screenshots drive Debian's Chromium (Playwright's own download is not used).
CHROMIUM := /usr/bin/chromium
DEMO_DIR := vpcflow-demo

.PHONY: install demo serve-demo test lint format bench screenshots clean java

# The Spark engine needs a Java 17+ runtime; install Debian's when none is on PATH (as root).
JAVA_STAMP := $(VENV)/.java

$(JAVA_STAMP): | $(BIN)/python
	@if ! command -v java >/dev/null 2>&1 && [ -z "$$JAVA_HOME" ]; then \
	  echo "installing a Java runtime for the Spark engine"; \
	  apt-get update -qq && (apt-get install -y -qq default-jre-headless \
	    || apt-get install -y -qq openjdk-17-jre-headless); \
	fi
	touch $(JAVA_STAMP)

java: $(JAVA_STAMP)

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py src/vpcflow/parse/_tokenize.c | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi

install: $(STAMP) $(CHROMIUM) $(JAVA_STAMP)

# The demo keeps its logs and store in $(DEMO_DIR)/ so that `vpcflow serve` can show them.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/vpcflow demo --keep $(DEMO_DIR)

serve-demo: $(STAMP)
	$(BIN)/vpcflow serve --store $(DEMO_DIR)/store

test: $(STAMP) $(CHROMIUM) $(JAVA_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP) $(CHROMIUM) $(JAVA_STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.spark

screenshots: $(STAMP) $(CHROMIUM)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
