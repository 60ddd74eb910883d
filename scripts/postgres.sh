#!/usr/bin/env bash
# A PostgreSQL database for the tests: prints its SQLAlchemy URL on stdout, or nothing (with a warning on stderr)
# when none can be had. Used by scripts/test.sh: FOOTPRINTS_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)".
#   - FOOTPRINTS_TEST_POSTGRES_URL already set: printed as it is.
#   - root: installs Debian's postgresql when missing, starts the cluster (pg_ctlcluster, with or without
#     systemd), creates the role and database below.
#   - not root, but PostgreSQL is installed: a private cluster under $TMPDIR owned by this user.
set -uo pipefail
DB=footprints_test USER_NAME=footprints PASSWORD=footprints PORT_PRIVATE=55432

warn() { echo "warning: $*; the PostgreSQL tests will be skipped" >&2; }

if [ -n "${FOOTPRINTS_TEST_POSTGRES_URL:-}" ]; then
  echo "$FOOTPRINTS_TEST_POSTGRES_URL"
  exit 0
fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(pg_bin)" ]; then
  if [ "$(id -u)" != 0 ]; then
    warn "PostgreSQL is not installed and this is not root (apt-get install postgresql)"
    exit 0
  fi
  echo "installing Debian's postgresql for the PostgreSQL tests" >&2
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null); then
    warn "could not install postgresql"
    exit 0
  fi
fi
BIN="$(pg_bin)"

if [ "$(id -u)" = 0 ] && command -v pg_lsclusters >/dev/null 2>&1; then
  VERSION="$(basename "$(dirname "$BIN")")"
  pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main"' | grep -q . \
    || pg_createcluster "$VERSION" main >/dev/null 2>&1 || { warn "pg_createcluster $VERSION main failed"; exit 0; }
  if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    # --skip-systemctl-redirect: pg_ctl as the postgres user, whether or not systemd runs this machine
    pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start >&2 || { warn "could not start PostgreSQL"; exit 0; }
  fi
  PORT="$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')"
  as_postgres() { runuser -u postgres -- "$@"; }
  psql_admin() { as_postgres psql -p "$PORT" -v ON_ERROR_STOP=1 -qtAX "$@"; }
  HOST=127.0.0.1
else
  # A private cluster for this user (initdb refuses to run as root, so root takes the branch above).
  DIR="${TMPDIR:-/tmp}/footprints-postgres-$(id -u)"
  PORT="$PORT_PRIVATE"
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    mkdir -p "$DIR" && "$BIN/initdb" -D "$DIR/data" -U postgres -A trust >/dev/null \
      || { warn "initdb in $DIR failed"; exit 0; }
  fi
  if ! "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null || { warn "could not start PostgreSQL in $DIR"; exit 0; }
  fi
  psql_admin() { "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }
  HOST=127.0.0.1
fi

for _ in $(seq 1 30); do psql_admin -d postgres -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'" || { warn "could not create role"; exit 0; }
fi
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE DATABASE $DB OWNER $USER_NAME" || { warn "could not create database"; exit 0; }
fi
echo "postgresql+psycopg://$USER_NAME:$PASSWORD@$HOST:$PORT/$DB"
