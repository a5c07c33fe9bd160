#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on loopback for the test suite: starts them when they
# are installed but stopped, and fails with a clear message when they cannot be reached.
set -uo pipefail
PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL…"
    for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true; done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "Starting Redis…"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 \
      || redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  fi
fi
ok=0
pg_up || { echo "ERROR: PostgreSQL is not reachable at $PG_HOST:$PG_PORT. Install and start it, or set DATABASE_URL." >&2; ok=1; }
redis_up || { echo "ERROR: Redis is not reachable at $REDIS_HOST:$REDIS_PORT. Install and start it, or set REDIS_URL." >&2; ok=1; }
exit $ok
