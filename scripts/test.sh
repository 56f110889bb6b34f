#!/usr/bin/env bash
# Set up a virtualenv with every extra and the JupyterLab extension's npm
# packages, then run lint, type checks and all tests (Python and TypeScript).
#
# PostgreSQL tests run when CELL_MONITOR_TEST_DATABASE_URL is set, or when a
# PostgreSQL answers on 127.0.0.1:5432 (then user postgres, trust auth, is used).
# Browser tests (tests/e2e) need /usr/bin/chromium (.ci/run installs it).
# InfluxDB tests run when CELL_MONITOR_TEST_INFLUXDB_URL is set, or when influxd
# is installed (then a throwaway one is started and stopped here).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci reinstalls node_modules exactly as package-lock.json says; skipped
# when node_modules is already at that lock (npm writes its copy there).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci" && npm ci --no-audit --no-fund --loglevel=error
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# The editable install also builds the labextension (npm run build:prod via
# hatch-jupyter-builder) when src/ changed, and installs both extensions.
.venv/bin/python -m pip install --quiet -e '.[dev]'

if [ -z "${CELL_MONITOR_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null \
    && pg_isready -q -h 127.0.0.1 -p 5432; then
  export CELL_MONITOR_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres
fi
echo "PostgreSQL tests: ${CELL_MONITOR_TEST_DATABASE_URL:-skipped (no server)}"
if [ -z "${CELL_MONITOR_TEST_INFLUXDB_URL:-}" ] && command -v influxd >/dev/null; then
  influx_dir=$(mktemp -d "${TMPDIR:-/tmp}/cell-monitor-test-influxdb.XXXXXX")
  trap 'scripts/start-influxd.sh --stop "$influx_dir"; rm -rf "$influx_dir"' EXIT
  CELL_MONITOR_TEST_INFLUXDB_URL=$(scripts/start-influxd.sh "$influx_dir")
  export CELL_MONITOR_TEST_INFLUXDB_URL
fi
echo "InfluxDB tests: ${CELL_MONITOR_TEST_INFLUXDB_URL:-skipped (no server)}"

python_dirs=()
for dir in cell_monitor tests benchmarks; do [ -d "$dir" ] && python_dirs+=("$dir"); done
echo "== ruff" && .venv/bin/ruff check "${python_dirs[@]}"
.venv/bin/ruff format --check "${python_dirs[@]}"
echo "== mypy" && .venv/bin/mypy
echo "== import layers" && .venv/bin/lint-imports --no-cache
echo "== extensions installed"
.venv/bin/jupyter labextension list 2>&1 | grep -E "cell-monitor .*enabled.*OK"
.venv/bin/jupyter server extension list 2>&1 | grep -E "cell_monitor .*OK"
echo "== docker-compose config"
if command -v docker-compose >/dev/null; then
  # Validation only (interpolation, schema); nothing is started.
  docker-compose --env-file .env.example config -q
else
  echo "skipped: docker-compose is not installed (apt-get install docker-compose)"
fi
echo "== tsc, eslint, prettier" && npx tsc --noEmit -p . && npx tsc --noEmit -p dashboard \
  && npm run --silent lint:check
echo "== jest" && npm test --silent
echo "== pytest" && .venv/bin/pytest "$@"
