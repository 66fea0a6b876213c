# Two commands for a new machine (Python 3.11, Java 17):
#   make demo   set up .venv and run the tracked sweep demo on local Spark
#   make test   set up .venv and run lint, types, the docs build and the whole test suite
# and for the inner loop while changing code:
#   make test-fast   the tests that start no JVM (under two minutes on 2 cores)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup setup-mlflow demo test test-fast lint typecheck docs pytest bench bench-setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,examples,docs]'
	touch $@

# MLflow's client in an environment of its own (tests/mlflow-requirements.txt): the tests
# of `sparktrack server` and `sparktrack import-mlflow` run it as MLflow users do.
setup-mlflow: $(VENV)-mlflow/.installed

$(VENV)-mlflow/.installed: tests/mlflow-requirements.txt
	$(PYTHON) -m venv $(VENV)-mlflow
	$(VENV)-mlflow/bin/pip install --quiet --upgrade pip
	$(VENV)-mlflow/bin/pip install --quiet -r tests/mlflow-requirements.txt
	touch $@

demo: setup
	$(BIN)/python examples/demo.py

lint: setup
	$(BIN)/ruff check sparktrack tests bench examples notebooks
	$(BIN)/ruff format --check sparktrack tests bench examples notebooks
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy sparktrack

# The documentation site, built offline into site/ (git-ignored); --strict turns every
# warning (a broken link, a docstring that does not match its signature) into a failure.
# NO_MKDOCS_2_WARNING: mkdocs-material's banner about its future, not about these docs.
# (No --quiet: it drops the warnings that --strict counts.)
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# pytest exits 5 when it collected no test: that is a failure here, like any non-zero code.
# Skips are reported (-rfEs, pyproject.toml) and a skip tests/conftest.py does not list
# in EXPECTED_SKIPS fails the run: a green CI never hides an untested feature.
pytest: setup setup-mlflow
	$(BIN)/pytest -p no:cacheprovider --durations=15

test: lint typecheck docs pytest

# Tests marked spark, h2o or slow are left out (tests/conftest.py refuses a test that
# uses the spark or h2o_context fixture without its marker). JAVA_HOME points nowhere,
# so a test that starts a JVM some other way fails here instead of slowing the loop.
test-fast: setup
	JAVA_HOME=/no-jvm-in-test-fast $(BIN)/pytest -p no:cacheprovider -m "not spark and not h2o and not slow"

# Benchmarks run in their own environment: MLflow is a peer we measure, not a dependency.
# Each writes its raw results to bench/results/; `--update-readme` (not used here) puts a
# full run from a clean tree into the tables of docs/benchmarks.md.
bench-setup: $(VENV)-bench/.installed

$(VENV)-bench/.installed: pyproject.toml bench/requirements.txt
	$(PYTHON) -m venv $(VENV)-bench
	$(VENV)-bench/bin/pip install --quiet --upgrade pip
	$(VENV)-bench/bin/pip install --quiet -e '.[examples,h2o,serve,ui,s3]' -r bench/requirements.txt
	touch $@

bench: bench-setup
	$(VENV)-bench/bin/python bench/tracking_ingest.py
	$(VENV)-bench/bin/python bench/autolog_overhead.py
	$(VENV)-bench/bin/python bench/serving_latency.py
	$(VENV)-bench/bin/python bench/sweep_throughput.py
	$(VENV)-bench/bin/python bench/ui_latency.py
	$(VENV)-bench/bin/python bench/object_store.py
	$(VENV)-bench/bin/python bench/mlflow_protocol.py

clean:
	rm -rf $(VENV) $(VENV)-bench $(VENV)-mlflow sparktrack-store spark-warehouse site
