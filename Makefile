# One task runner for people and CI. `make demo` and `make test` work on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser tests and screenshots drive Debian's Chromium (Playwright's own download is not used).
CHROMIUM := /usr/bin/chromium
DEMO_DIR := vpcflow-demo

.PHONY: install bytecode demo serve-demo test lint format bench screenshots clean java s3a-jars

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

# Hadoop's S3A connector (hadoop-aws and its AWS SDK), for the test that reads a store on S3
# through it; PySpark ships none (see scripts/fetch-s3a-jars).
S3A_JARS := $(VENV)/share/vpcflow-s3a

$(S3A_JARS)/hadoop-aws-3.3.1.jar: scripts/fetch-s3a-jars | $(BIN)/python
	scripts/fetch-s3a-jars $(BIN)/python $(S3A_JARS)

s3a-jars: $(S3A_JARS)/hadoop-aws-3.3.1.jar

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py src/vpcflow/parse/_tokenize.c | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi

# The package's bytecode, written here because Python does not write it where it may not
# (PYTHONDONTWRITEBYTECODE set, a read-only checkout): without it every command compiles
# vpcflow's modules anew at start-up (60-70 ms of a `vpcflow sql`). Up-to-date files are skipped.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q src/vpcflow

install: $(STAMP) bytecode $(CHROMIUM) $(JAVA_STAMP)

# The demo keeps its logs and store in $(DEMO_DIR)/ so that `vpcflow serve` can show them.
demo: $(STAMP) bytecode
	rm -rf $(DEMO_DIR)
	$(BIN)/vpcflow demo --keep $(DEMO_DIR)

serve-demo: $(STAMP) bytecode
	$(BIN)/vpcflow serve --store $(DEMO_DIR)/store

test: $(STAMP) bytecode $(CHROMIUM) $(JAVA_STAMP) $(S3A_JARS)/hadoop-aws-3.3.1.jar
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# chdb is a contender when it installs (a large wheel, not on every platform), in a virtualenv of
# its own: it brings pandas, which pyarrow would then import in every vpcflow process.
bench: $(STAMP) bytecode $(CHROMIUM) $(JAVA_STAMP)
	test -x .venv-chdb/bin/python || $(PY) -m venv .venv-chdb || python3 -m venv .venv-chdb
	.venv-chdb/bin/python -c 'import chdb' 2>/dev/null || .venv-chdb/bin/pip install --quiet 'chdb>=3' \
		|| echo "chdb does not install here: the bench runs without it"
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.spark

screenshots: $(STAMP) $(CHROMIUM)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

clean:
	rm -rf $(VENV) .venv-chdb build *.egg-info src/*.egg-info .pytest_cache
