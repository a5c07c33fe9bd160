# The two commands that matter: `make run` (the whole app, embedded defaults) and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
# Python keeps the modules it compiled (in __pycache__, ignored by git), even where the
# environment says not to: every test worker and subprocess would compile Django again.
export PYTHONDONTWRITEBYTECODE :=
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTHON ?= python3.12

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run test install lint bench browser-deps clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)

run: install
	$(UV) run --frozen python scripts/run.py

test: install
	@scripts/services.sh
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  $(UV) run --frozen pytest -n 2 --dist worksteal $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	DEBUG=true $(UV) run --frozen python manage.py makemigrations --check --dry-run
	DEBUG=true $(UV) run --frozen mypy

# Issue 11's benchmarks on DATABASE_URL (pages; the rest on scratch databases), see
# docs/performance.md: make bench BENCH_ARGS="--org scale --password … --compare-org …"
bench: install
	BENCH_PYTHON=.venv/bin/python scripts/bench_all.sh $(BENCH_ARGS)

clean:
	rm -rf var .tools
