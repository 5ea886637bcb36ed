# The two commands: `make run` and `make test`. Both build .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install migrate bench bench-security bench-anomalies bench-limits clean check-env serve schema docs

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e './sdk/python[openai,anthropic,gemini,langchain,llamaindex,agents,cli]' -e '.[dev,bench,docs]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py clickhouse_migrate

run: $(STAMP) site/index.html
	PORT=$(PORT) $(BIN)/python manage.py run_embedded

# The documentation site (docs/, MkDocs): static files in site/ that open from disk and
# are served at /docs/. Built once by `make run`; `make docs` rebuilds it.
DOCS_SOURCES := mkdocs.yml $(wildcard docs/*.md docs/*/*.md docs/hooks.py) bench/results/latest.md
site/index.html: $(STAMP) $(DOCS_SOURCES)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet
	@echo "Built site/ — open site/index.html, or http://localhost:$(PORT)/docs/ while make run is up."


test: $(STAMP)
	bash scripts/test.sh

# Production run outside Docker: ASGI server (WEB_CONCURRENCY workers), Celery
# worker and beat. Needs CLICKHOUSE_URL and REDIS_URL; ASGI_SERVER picks the server.
ASGI_SERVER ?= uvicorn
serve: $(STAMP)
	ASGI_SERVER=$(ASGI_SERVER) $(BIN)/python manage.py serve all --migrate

# Regenerate supabase/init.sql from the migrations (needs a PostgreSQL; the test one by default).
SCHEMA_DATABASE_URL ?= postgresql://127.0.0.1:5432/test
schema: $(STAMP)
	DATABASE_URL=$(SCHEMA_DATABASE_URL) ENCRYPTION_KEY=$${ENCRYPTION_KEY:-$$(openssl rand -base64 32)} \
	  $(BIN)/python manage.py export_schema

# Is this environment ready? Exit 0 = yes; otherwise each problem with its fix.
check-env: $(STAMP)
	$(BIN)/python manage.py check_env $(ARGS)

# Side-by-side performance benchmark (about 10 minutes); writes bench/results/latest.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# Precision and recall of the security flags on the labelled corpus (seconds).
bench-security: $(STAMP)
	$(BIN)/python -m bench.security_flags

# Detection rate and false alarms per day of the anomaly detector on generated series (seconds).
bench-anomalies: $(STAMP)
	$(BIN)/python -m bench.anomalies

# What a budget check adds to a call: in-process and Redis counters (seconds).
bench-limits: $(STAMP)
	$(BIN)/python -m bench.limits

clean:
	rm -rf $(VENV) var
