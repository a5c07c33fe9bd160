#!/usr/bin/env bash
# `make bench`: issue 11's benchmarks one after the other, each printing its markdown table with
# the load average of its run (docs/performance.md, "Benchmarks", keeps the latest figures).
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale REDIS_URL=redis://127.0.0.1:6379/0 \
#       nice -n 5 scripts/bench_all.sh --org scale --password … --compare-org <small slug>
#
# Its arguments go to bench_pages.py. What each part runs on:
# 1. pages: bench_pages.py on DATABASE_URL (it starts gunicorn, 2 workers, DEBUG off). It only
#    reads, besides signing in: a large center's database can be used as it is.
# 2. logging beside pgbench: bench_logging.py, in scratch databases of its own.
# 3. webhooks write grants, so they run on a scratch database, $BENCH_DATABASE (default
#    matchpal_bench, dropped and made again beside DATABASE_URL's), migrated and seeded with the
#    demo, with a gunicorn and a Celery worker started here.
# 4. reconcile vs COPY: bench_reconcile.py in a scratch database of its own.
# BENCH_PYTHON (default .venv/bin/python), BENCH_LOGGING, BENCH_WEBHOOKS and BENCH_RECONCILE
# (their options) and BENCH_DATABASE change the defaults below.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${BENCH_PYTHON:-.venv/bin/python}
: "${DATABASE_URL:?Set DATABASE_URL to the PostgreSQL database the pages are measured on.}"
SCRATCH=${BENCH_DATABASE:-matchpal_bench}
WEBHOOKS=${BENCH_WEBHOOKS:-"-n 200 --threads 2 --rate 4"}
RECONCILE=${BENCH_RECONCILE:-"--grants 20000"}
LOGGING=${BENCH_LOGGING:-}

children=()
stop_children() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  children=()
}
trap stop_children EXIT

echo "# Benchmarks, $(date -u '+%Y-%m-%d %H:%M') UTC"
echo "$(nproc) cores; $(uptime | sed 's/.*load average/load average/')"

echo; echo "## 1. Every page of every role beside /healthz"
"$PY" scripts/bench_pages.py "$@" || echo "(bench_pages.py exited $?)"

scratch_url=$("$PY" - "$SCRATCH" <<'EOF'
import os, sys
sys.path.insert(0, ".")
from scripts.benchkit import database_url, recreate
recreate(os.environ["DATABASE_URL"], sys.argv[1])
print(database_url(os.environ["DATABASE_URL"], sys.argv[1]))
EOF
)
var_dir=$(mktemp -d /tmp/matchpal-bench-all-XXXXXX)
export DATABASE_URL=$scratch_url DEBUG=false EMAIL_CONSOLE=true MATCHPAL_VAR_DIR=$var_dir SECURE_COOKIES=false \
  LOG_LEVEL=WARNING SECRET_KEY=${SECRET_KEY:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')}
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo >&2
"$PY" manage.py collectstatic --noinput -v 0

echo; echo "## 2. Session logging beside pgbench TPC-B"
if [[ -f scripts/bench_logging.py ]]; then
  # shellcheck disable=SC2086
  "$PY" scripts/bench_logging.py $LOGGING || echo "(bench_logging.py exited $?)"
else
  echo "scripts/bench_logging.py is not in this checkout yet."
fi

echo; echo "## 3. Webhook acknowledgement beside /healthz"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" -m gunicorn matchpal.wsgi:application --bind "127.0.0.1:$port" --workers 2 \
  --log-level warning >&2 & children+=($!)
"$PY" -m celery -A matchpal worker --loglevel=WARNING --concurrency=1 --without-gossip \
  --without-mingle >&2 & children+=($!)
"$PY" - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(120):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2)
        break
    except OSError:
        time.sleep(0.5)
EOF
# shellcheck disable=SC2086  # the options are words on purpose
"$PY" scripts/bench_webhooks.py --url "http://127.0.0.1:$port" $WEBHOOKS \
  || echo "(bench_webhooks.py exited $?)"
stop_children

echo; echo "## 4. reconcile_grants beside a COPY of the ledger"
# shellcheck disable=SC2086
"$PY" scripts/bench_reconcile.py $RECONCILE || echo "(bench_reconcile.py exited $?)"
rm -rf "$var_dir"
