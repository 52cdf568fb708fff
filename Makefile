# ServiceBay — two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
# The PostgreSQL half of the suite; pytest-django creates a fresh test_<name> database from it.
PG_URL ?= postgres://postgres@127.0.0.1:5432/servicebay
PYTEST_ARGS ?=
XDIST  ?= -n 2 --dist loadfile

.PHONY: run serve install test test-sqlite test-postgres test-fast lint fuzz bench seed clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/servicebay migrate --noinput -v0
	$(BIN)/servicebay seed --customers 200 --if-empty
	@echo ""
	@echo "  ServiceBay: http://127.0.0.1:$(PORT)/"
	@echo "  Demo login: advisor / servicebay-demo   (also technician, manager, marketing, admin)"
	@echo ""
	@# The demo has no SMS provider: log SMS/WhatsApp instead of failing them (never in production).
	PORT=$(PORT) MESSAGING_CONSOLE_PROVIDER=$${MESSAGING_CONSOLE_PROVIDER:-true} $(BIN)/servicebay serve

test: $(STAMP) lint test-sqlite test-postgres

lint: $(STAMP)
	$(BIN)/ruff check servicebay tests bench
	$(BIN)/servicebay makemigrations --check --dry-run -v0

test-sqlite: $(STAMP)
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/pytest $(XDIST) -q $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== test suite on PostgreSQL ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest $(XDIST) -q --create-db $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at 127.0.0.1:5432 is unreachable, and it is required on CI (CI=true)."; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL half: no server at 127.0.0.1:5432 (start one, or set PG_URL)."; \
	fi

# Only the fast tests: no browser, nothing marked slow, SQLite only.
test-fast: $(STAMP)
	env -u DATABASE_URL $(BIN)/pytest $(XDIST) -q -m "not browser and not slow" $(PYTEST_ARGS)

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} $(BIN)/pytest -q tests/hardening -k fuzz $(PYTEST_ARGS)

# Every benchmark on 100k customers, SQLite and PostgreSQL (sb_bench, created if missing): one report,
# bench/results/latest.md + latest.svg. ARGS: --large (1M), --customers N, --only NAME, --database sqlite.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

seed: $(STAMP)
	$(BIN)/servicebay migrate --noinput -v0
	$(BIN)/servicebay seed $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis test-artifacts bench/results
