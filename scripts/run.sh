#!/usr/bin/env bash
# make run: gunicorn and one job-queue worker (webhook deliveries, reminders) together, on the
# same settings and database; Ctrl-C (or SIGTERM) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

"$BIN/flask" --app wsgi worker run &
worker=$!
# Ctrl-C reaches both (one process group); a SIGTERM to this script, or gunicorn ending on its
# own, stops the worker here. The worker finishes the job in hand first.
trap 'kill -TERM "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT
trap 'exit 143' TERM
"$BIN/gunicorn" -c gunicorn.conf.py wsgi:app
