# One task runner for people and CI. `make demo` and `make test` work on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench clean java

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

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vpcflow demo

test: $(STAMP) $(JAVA_STAMP)
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

bench: $(STAMP) $(JAVA_STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.spark

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
