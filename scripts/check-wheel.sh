#!/usr/bin/env bash
# The student install, as README gives it, from this checkout: build the wheel
# once, install it with the `jupyter` extra into a fresh virtualenv (a student's
# or the hub image's environment), and check that JupyterLab lists both
# extensions enabled, with no further command. pip's cache is reused, so a run
# after the first takes well under a minute.
# Usage: scripts/check-wheel.sh [DIST_DIR]   (default: a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cell-monitor-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
dist=${1:-$work/dist}

echo "== wheel: build"
rm -f "$dist"/cell_monitor-*.whl
"$PYTHON" -m pip wheel --quiet --no-deps -w "$dist" .
wheels=("$dist"/cell_monitor-*.whl)
[ "${#wheels[@]}" -eq 1 ] || { echo "expected one wheel in $dist, found ${#wheels[@]}" >&2; exit 1; }
wheel=${wheels[0]}
echo "built $(basename "$wheel")"

echo "== wheel: install into a fresh venv"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-compile "${wheel}[jupyter]"

echo "== wheel: extensions enabled"
labextensions=$("$work/venv/bin/jupyter" labextension list 2>&1)
server_extensions=$("$work/venv/bin/jupyter" server extension list 2>&1)
status=0
expect() {  # what is wrong, the pattern that must match, the listing
  grep -qE "$2" <<<"$3" || { echo "$1:" >&2; echo "$3" >&2; status=1; }
}
expect "cell-monitor is not an enabled labextension" "cell-monitor .*enabled.*OK" "$labextensions"
expect "cell_monitor is not an enabled server extension" "cell_monitor .*enabled" "$server_extensions"
expect "the cell_monitor server extension does not load" "cell_monitor .*OK" "$server_extensions"
[ $status -eq 0 ] && echo "cell-monitor and cell_monitor enabled in a fresh venv from $(basename "$wheel")"
exit $status
