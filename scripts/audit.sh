#!/usr/bin/env bash
# Audit the pinned requirements for known vulnerabilities with pip-audit.
# pip-audit reports "could not be audited" and exits 0 when its vulnerability service does not
# answer, which would read as a pass; so ask the service first, say plainly when it cannot be
# reached, and otherwise run with --strict so that any dependency left unaudited fails.
set -euo pipefail
cd "$(dirname "$0")/.."

AUDIT_VENV=${AUDIT_VENV:-.venv-audit}
PROBE_URL=${AUDIT_PROBE_URL:-https://pypi.org/pypi/flask/3.1.3/json}

status=$(python3 - "$PROBE_URL" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
        print(response.status)
except Exception as error:  # any failure means the service is not usable from here
    print(getattr(error, "code", 0))
PY
)
if [ "$status" != "200" ]; then
  echo "audit: UNAVAILABLE - the PyPI vulnerability service answered '$status' for $PROBE_URL;"
  echo "audit: no dependency was checked. Run 'make audit' where pypi.org answers."
  exit 0
fi

[ -x "$AUDIT_VENV/bin/pip-audit" ] || {
  python3 -m venv "$AUDIT_VENV"
  "$AUDIT_VENV/bin/pip" install --quiet -r requirements-audit.txt
}
"$AUDIT_VENV/bin/pip-audit" --strict --progress-spinner off \
  -r requirements.txt -r requirements-dev.txt
echo "audit: PASS - no known vulnerability in the pinned requirements"
