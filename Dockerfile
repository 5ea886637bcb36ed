# One image for web, worker and beat; the command picks the role:
#   python manage.py serve web --migrate | serve worker | serve beat
FROM python:3.11-slim AS build
# The image talks to a ClickHouse server (CLICKHOUSE_URL), so embedded chDB and
# pandas are left out (numpy and pyarrow stay: anomaly baselines and log batches use them). --build-arg EMBEDDED=1 keeps them.
ARG EMBEDDED=0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && pip install --upgrade pip "setuptools>=68" wheel
WORKDIR /app
# Dependencies first, in their own layer: a code change does not reinstall them.
# The server depends on the SDK (sdk/python), installed from this tree, never from an index.
COPY pyproject.toml README.md ./
COPY sdk/python/pyproject.toml sdk/python/README.md ./sdk/python/
RUN mkdir -p spanlens proxy dashboard evals sdk/python/src/spanlens \
 && touch proxy/__init__.py dashboard/__init__.py evals/__init__.py sdk/python/src/spanlens/__init__.py \
 && pip install ./sdk/python . && pip uninstall -y spanlens-server spanlens-sdk \
 && if [ "$EMBEDDED" != "1" ]; then pip uninstall -y chdb-core-lite pandas; fi
COPY . .
# Editable: the code stays in /app (BASE_DIR holds clickhouse/, templates/, static/).
# The documentation site is built into /app/site and served at /docs/.
RUN pip install --no-deps --no-build-isolation -e ./sdk/python -e . \
 && mkdir -p static \
 && SPANLENS_VAR_DIR=/tmp/build-var STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput -v 0 \
 && pip install "mkdocs>=1.6,<2" "mkdocs-material>=9.5,<10" \
 && SPANLENS_VAR_DIR=/tmp/build-var NO_MKDOCS_2_WARNING=1 mkdocs build --quiet \
 && rm -rf /tmp/build-var \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && rm -rf tests bench .git

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SPANLENS_VAR_DIR=/var/lib/spanlens STATIC_ROOT=/app/staticfiles PORT=8000
RUN useradd --system --uid 10001 --home-dir /var/lib/spanlens --create-home spanlens
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER spanlens
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/health', timeout=4)" || exit 1
CMD ["python", "manage.py", "serve", "web", "--migrate", "--host", "0.0.0.0"]
