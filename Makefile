# Two commands set everything up on a fresh machine (Python 3.11+ and make present):
#   make run   -> .venv, install, serve on 127.0.0.1:8080 with SQLite and data under ./data
#   make test  -> .venv with the test extras, then the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=
# Example third-party plugins: installed editable with the test extras, and their own tests run by `make test`.
EXAMPLES := examples/colonnade-greeter examples/colonnade-audit-log

.PHONY: run test bench bench-workspace bench-completions bench-relay-stack bench-relay-trace bench-rag bench-scim clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(EXAMPLES:%=%/pyproject.toml) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,local-embeddings]' $(EXAMPLES:%=-e %)
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/colonnade serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q $(EXAMPLES)

# Start-up, memory and throughput of `colonnade serve` against a bare Quart app (docs/benchmarks.md).
# Uses wrk when it is installed (apt-get install wrk), else a Python load generator (bench/load.py).
bench: $(VENV)/.installed-test
	$(BIN)/python bench/core.py $(BENCH_ARGS)

# Chat list, 2,000 chat creates and a 200 MB upload on SQLite and PostgreSQL (docs/benchmarks.md,
# "Workspace data"). PostgreSQL: a database created for the run on 127.0.0.1:5432 (user postgres), dropped
# afterwards; BENCH_WORKSPACE_ARGS="--backends sqlite" measures SQLite only.
bench-workspace: $(VENV)/.installed-test
	$(BIN)/python bench/workspace.py $(BENCH_WORKSPACE_ARGS)

# Latency added by /openai/chat/completions and /api/chat/completions to a 200-chunk stream from the fake
# OpenAI upstream, at 1 and 16 connections (docs/benchmarks.md, "Completions").
bench-completions: $(VENV)/.installed-test
	$(BIN)/python bench/completions.py $(BENCH_COMPLETIONS_ARGS)

# What hypercorn and httpx each cost a bare relay, against minimal stand-ins (docs/benchmarks.md, "Completions").
bench-relay-stack: $(VENV)/.installed-test
	$(BIN)/python bench/relay_stack.py $(BENCH_RELAY_STACK_ARGS)

# Where a relayed request's time goes inside the server up to its first byte, against the bare relay
# (docs/benchmarks.md, "Completions").
bench-relay-trace: $(VENV)/.installed-test
	$(BIN)/python bench/relay_trace.py $(BENCH_RELAY_TRACE_ARGS)

# RAG: ingest rate and query latency at 10,000 and 100,000 chunks (docs/benchmarks.md, "RAG").
bench-rag: $(VENV)/.installed-test
	$(BIN)/python bench/rag.py $(BENCH_RAG_ARGS)

# SCIM: 10,000 provisioned users, userName lookups answered from an index (docs/benchmarks.md, "SCIM").
bench-scim: $(VENV)/.installed-test
	$(BIN)/python bench/scim.py $(BENCH_SCIM_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache examples/*/*.egg-info
