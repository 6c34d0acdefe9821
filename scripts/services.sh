#!/usr/bin/env bash
# Starts the real servers the tests talk to, on loopback, if they are not up:
# Redis on 127.0.0.1:6379 and PostgreSQL 15 (Debian's cluster "main") on
# 127.0.0.1:5432 with a role riptide/riptide allowed to create databases.
# Exports the URLs tests read. Source it; it needs the Debian packages that
# .ci/run installs (redis-server, postgresql).
set -euo pipefail

export RIPTIDE_TEST_REDIS_URL="${RIPTIDE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export RIPTIDE_TEST_POSTGRES_URL="${RIPTIDE_TEST_POSTGRES_URL:-postgres://riptide:riptide@127.0.0.1:5432/postgres}"

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install -y redis-server)" >&2; return 1; }
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
    --logfile /tmp/riptide-test-redis.log
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis-server did not come up; see /tmp/riptide-test-redis.log" >&2; return 1
}

start_postgres() {
  local ver
  ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
  [ -n "$ver" ] || { echo "postgresql is not installed (apt-get install -y postgresql)" >&2; return 1; }
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx main; then
    pg_createcluster "$ver" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk '$2=="main"{print $4}' | grep -qx online; then
    pg_ctlcluster "$ver" main start
  fi
  for _ in $(seq 1 100); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 0.1
  done
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; return 1; }
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='riptide'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE riptide LOGIN PASSWORD 'riptide' CREATEDB\""
}

start_redis
start_postgres
