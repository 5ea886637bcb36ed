#!/usr/bin/env bash
# Runs the whole suite against real PostgreSQL and Redis (the services CI has),
# with the request log in embedded chDB (one folder per test worker).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql://127.0.0.1:5432/test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

# Start the local services if this machine has them but they are down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null && redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

# The browser tests drive Debian's Chromium, and the benchmark smoke test needs nginx
# (with its Lua module) and wrk: install what is missing where we can (root + apt).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nginx >/dev/null || need+=(nginx libnginx-mod-http-lua)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${need[*]} for the browser and benchmark tests…"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq "${need[@]}"; } >/dev/null 2>&1 \
      || echo "Could not install ${need[*]}: the tests that need them will be skipped."
  else
    echo "Missing ${need[*]} (apt-get install -y ${need[*]}): the tests that need them will be skipped."
  fi
fi

# Two workers by default (the suite takes about half as long on two cores); pass -n to choose.
case " $* " in
  *" -n "*|*" -n"[0-9]*|*" --numprocesses"*|*" -p no:xdist "*) exec "$BIN/python" -m pytest "$@" ;;
  *) exec "$BIN/python" -m pytest -n "${TEST_WORKERS:-2}" "$@" ;;
esac
