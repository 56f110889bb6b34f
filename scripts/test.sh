#!/usr/bin/env bash
# Set up a virtualenv with every extra, then run lint, type checks and all tests.
#
# PostgreSQL tests run when CELL_MONITOR_TEST_DATABASE_URL is set, or when a
# PostgreSQL answers on 127.0.0.1:5432 (then user postgres, trust auth, is used).
# InfluxDB tests run when CELL_MONITOR_TEST_INFLUXDB_URL is set, or when influxd
# is installed (then a throwaway one is started and stopped here).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
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

echo "== ruff" && .venv/bin/ruff check cell_monitor tests benchmarks
.venv/bin/ruff format --check cell_monitor tests benchmarks
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && .venv/bin/pytest "$@"
