#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis that the test suite will use answer: the servers named by
# DATABASE_URL and REDIS_URL (as `make test` gives them to pytest; defaults: the local servers on
# loopback). A server on loopback that is installed but stopped is started; one that cannot be
# reached fails with a message naming its URL.
#
#   scripts/services.sh           check (and start) both
#   scripts/services.sh --where   print the host and port taken from each URL, contact nothing
set -uo pipefail

DATABASE_URL=${DATABASE_URL:-${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
REDIS_URL=${REDIS_URL:-${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}}

# parse_url URL DEFAULT_PORT → "HOST PORT": scheme, credentials, path and query dropped; an IPv6
# literal loses its brackets; no host means loopback (e.g. postgres:///matchpal).
parse_url() {
  local rest=${1#*://} port=$2 host
  rest=${rest%%[/?#]*}
  rest=${rest##*@}
  if [[ $rest == \[* ]]; then
    host=${rest#\[}; host=${host%%\]*}
    rest=${rest#*\]}; [[ $rest == :* ]] && port=${rest#:}
  else
    host=${rest%%:*}
    [[ $rest == *:* ]] && port=${rest##*:}
  fi
  [ -n "$port" ] || port=$2
  echo "${host:-127.0.0.1} $port"
}

# The URL without its password, for messages.
shown() { sed -E 's#^([a-z0-9+.-]+://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

is_loopback() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 ]]; }

read -r PG_HOST PG_PORT <<<"$(parse_url "$DATABASE_URL" 5432)"
read -r REDIS_HOST REDIS_PORT <<<"$(parse_url "$REDIS_URL" 6379)"

if [ "${1:-}" = "--where" ]; then
  echo "postgres $PG_HOST $PG_PORT"
  echo "redis $REDIS_HOST $REDIS_PORT"
  exit 0
fi

tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

pg_up() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -t 3 -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

# A Redis server answers PING with +PONG, or with -NOAUTH when it wants a password (reachable all
# the same: the URL's password is for the app to use).
redis_up() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && head -c 7 <&3' \
    "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null | grep -qE '^(\+PONG|-NOAUTH)'
}

if ! pg_up && is_loopback "$PG_HOST"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL…"
    for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true; done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! redis_up && is_loopback "$REDIS_HOST"; then
  if command -v redis-server >/dev/null; then
    echo "Starting Redis on port $REDIS_PORT…"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 \
      || redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  fi
fi
ok=0
pg_up || {
  echo "ERROR: PostgreSQL is not reachable at $PG_HOST:$PG_PORT (DATABASE_URL=$(shown "$DATABASE_URL")). Start it there, or set DATABASE_URL to a server that runs." >&2
  ok=1
}
redis_up || {
  echo "ERROR: Redis is not reachable at $REDIS_HOST:$REDIS_PORT (REDIS_URL=$(shown "$REDIS_URL")). Start it there, or set REDIS_URL to a server that runs." >&2
  ok=1
}
exit $ok
