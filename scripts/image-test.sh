#!/usr/bin/env bash
# Build the image (scripts/image-build.sh), then prove it on this machine's PostgreSQL and Redis:
# migrate a fresh database with the image's release command, serve it, wait for readiness,
# register a user and read /api/auth/me with the token, check the server is not root and the
# image's HEALTHCHECK passes. Prints PASS/FAIL lines; removes its container and database on exit.
#
#   IMAGE             tag to build and test        (default localhost/taskapi:latest)
#   TEST_DB           database made, then dropped  (default taskapi_image)
#   PGHOST/PGPORT/PGUSER                            (default 127.0.0.1, 5432, postgres)
#   REDIS_URL                                      (default redis://127.0.0.1:6379/0)
#   KEEP_DB=1         keep the database afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

export IMAGE=${IMAGE:-localhost/taskapi:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
TEST_DB=${TEST_DB:-taskapi_image}
PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$TEST_DB"
JWT_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
# A Fernet key (url-safe base64 of 32 bytes), as `flask --app wsgi webhooks new-key` prints.
WEBHOOK_SECRET_KEY=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
CONTAINER=taskapi-image-test-$$
WORKER=taskapi-image-test-worker-$$
READY_SECONDS=60

# Without systemd, podman logs errors about the HEALTHCHECK's timer at every start and removal;
# they are harmless here (the check is run by hand below), so they are filtered out.
podman() { command podman "$@" 2> >(grep -v 'systemd connection' >&2); }

started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started))s"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*"
  if podman container exists "$CONTAINER" 2>/dev/null; then
    echo "-- last lines of the container's log:"
    podman logs --tail 30 "$CONTAINER" 2>&1 || true
  fi
  exit 1
}
psql_admin() { PGOPTIONS='-c client_min_messages=warning' psql -d postgres -v ON_ERROR_STOP=1 -qc "$1"; }

cleanup() {
  podman rm --force --time 5 "$CONTAINER" "$WORKER" >/dev/null 2>&1 || true
  [ "${KEEP_DB:-0}" = 1 ] || psql_admin "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" \
    >/dev/null 2>&1 || true
}
trap cleanup EXIT

# One HTTP call to 127.0.0.1: prints the status on the first line, the body on the second.
http() {
  python3 - "$@" <<'PY'
import sys, urllib.error, urllib.request
method, url, body, token = (sys.argv[1:] + ["", ""])[:4]
request = urllib.request.Request(url, method=method, data=body.encode() or None)
if body:
    request.add_header("Content-Type", "application/json")
if token:
    request.add_header("Authorization", f"Bearer {token}")
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        status, text = response.status, response.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode()
except OSError as error:
    status, text = 0, str(error)
print(status)
print(text.replace("\n", " "))
PY
}
json_get() { python3 -c 'import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2:]:
    value = value[key]
print(value)' "$@"; }

echo "== build"
scripts/image-build.sh || fail "image build"
build_time=$(elapsed)
pass "image $IMAGE built ($build_time since start)"

echo "== fresh database $TEST_DB"
pg_isready -q -t 5 || fail "PostgreSQL is not answering on $PGHOST:$PGPORT"
psql_admin "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" || fail "drop $TEST_DB"
psql_admin "CREATE DATABASE $TEST_DB" || fail "create $TEST_DB"

common_env=(--env "DATABASE_URL=$DATABASE_URL" --env "JWT_SECRET_KEY=$JWT_SECRET_KEY"
  --env "WEBHOOK_SECRET_KEY=$WEBHOOK_SECRET_KEY")

echo "== migrate (the release command, in the image)"
podman run --rm --timeout 120 --network host "${common_env[@]}" "$IMAGE" \
  flask --app wsgi db upgrade || fail "flask --app wsgi db upgrade in the image"
pass "migrations applied"

echo "== serve"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The host's network is shared, so bind to loopback only (the image's default is 0.0.0.0);
# a key prefix of its own keeps this run's rate-limit counters apart from anyone else's.
podman run --detach --name "$CONTAINER" --network host "${common_env[@]}" \
  --env HOST=127.0.0.1 --env "PORT=$port" --env WEB_CONCURRENCY=2 \
  --env "RATELIMIT_STORAGE_URI=$REDIS_URL" --env "RATELIMIT_KEY_PREFIX=$CONTAINER" \
  "$IMAGE" >/dev/null || fail "podman run"
api="http://127.0.0.1:$port"

deadline=$(($(date +%s) + READY_SECONDS))
until [ "$(http GET "$api/health/ready" | sed -n 1p)" = 200 ]; do
  [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" = true ] \
    || fail "the container exited before it was ready"
  [ "$(date +%s)" -lt "$deadline" ] || fail "/health/ready not 200 within ${READY_SECONDS}s"
  sleep 0.5
done
pass "/health/ready is 200 on port $port"

echo "== register, then me"
email="image-test-$$-$(date +%s)@example.com"
{ read -r status; read -r body; } < <(http POST "$api/api/auth/register" \
  "{\"email\": \"$email\", \"password\": \"correct horse battery\", \"name\": \"Image Test\"}")
[ "$status" = 201 ] || fail "POST /api/auth/register: $status $body"
token=$(json_get "$body" data access_token)
pass "POST /api/auth/register is 201"

{ read -r status; read -r body; } < <(http GET "$api/api/auth/me" "" "$token")
[ "$status" = 200 ] || fail "GET /api/auth/me: $status $body"
[ "$(json_get "$body" data email)" = "$email" ] || fail "GET /api/auth/me answered another user: $body"
pass "GET /api/auth/me is 200 with the new user"

echo "== container"
uid=$(podman exec "$CONTAINER" python3 -c 'print(open("/proc/1/status").read().split("Uid:")[1].split()[0])') \
  || fail "read the server's uid"
[ "$uid" != 0 ] || fail "the server runs as root"
pass "the server (PID 1, gunicorn) runs as uid $uid"
timeout 30 podman healthcheck run "$CONTAINER" >/dev/null || fail "the image's HEALTHCHECK"
pass "the image's HEALTHCHECK passes"

echo "== worker (the same image, another command)"
podman run --detach --name "$WORKER" --network host "${common_env[@]}" \
  "$IMAGE" flask --app wsgi worker run >/dev/null || fail "podman run worker"
deadline=$(($(date +%s) + READY_SECONDS))
until podman exec "$WORKER" flask --app wsgi worker health >/dev/null 2>&1; do
  [ "$(podman inspect --format '{{.State.Running}}' "$WORKER")" = true ] \
    || { podman logs --tail 30 "$WORKER" 2>&1 || true; fail "the worker exited"; }
  [ "$(date +%s)" -lt "$deadline" ] || fail "no worker heartbeat within ${READY_SECONDS}s"
  sleep 1
done
pass "the worker runs and its heartbeat is fresh (flask --app wsgi worker health)"
podman stop --time 20 "$WORKER" >/dev/null || fail "podman stop worker"
code=$(podman inspect --format '{{.State.ExitCode}}' "$WORKER")
[ "$code" = 0 ] || fail "the worker exited with $code on SIGTERM"
pass "SIGTERM stops the worker with exit code 0"

podman stop --time 20 "$CONTAINER" >/dev/null || fail "podman stop"
code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
[ "$code" = 0 ] || fail "gunicorn exited with $code on SIGTERM"
pass "SIGTERM stops gunicorn with exit code 0"
echo "PASS: image-test (build $build_time, total $(elapsed))"
