#!/usr/bin/env bash
# Set everything up (Python packages, Debian's chromium for the browser test, PostgreSQL for the PostgreSQL tests)
# and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: chromium is missing and this is not root; browser tests will be skipped" >&2
  fi
fi
bash scripts/setup.sh
# A real PostgreSQL server for the PostgreSQL variants of the queue and worker tests (skipped when none).
FOOTPRINTS_TEST_POSTGRES_URL="$(bash scripts/postgres.sh || true)"
if [ -n "$FOOTPRINTS_TEST_POSTGRES_URL" ]; then export FOOTPRINTS_TEST_POSTGRES_URL; else unset FOOTPRINTS_TEST_POSTGRES_URL; fi
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest -q "$@"
