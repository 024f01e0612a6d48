#!/usr/bin/env bash
# The system programs the tests run, checked before pytest starts (make test, make screenshot).
#
# Each `need` line below names one program: the environment variable that says where it is
# (the tests read the same variable), its default (an absolute path, or a name looked up on
# PATH), the Debian/Ubuntu packages that provide it, and the tests that need it. A program
# that a new test needs is one more line, for instance:
#   need PGBOUNCER pgbouncer pgbouncer tests/test_pooler.py
#
# When all are found this prints nothing. When some are missing: as root with apt-get
# (Debian/Ubuntu), it runs `apt-get update && apt-get install -y <packages>` itself; otherwise
# it stops at once with one line saying what to run. APT_GET overrides the apt-get it uses.
set -euo pipefail

missing=() packages=() users=()

found() {
  if [[ $1 == */* ]]; then [[ -f $1 && -x $1 ]]; else command -v "$1" >/dev/null 2>&1; fi
}

# need VARIABLE DEFAULT PACKAGES NEEDED_BY
need() {
  local where=${!1:-$2}
  if ! found "$where"; then
    missing+=("$where")
    read -ra more <<<"$3"
    packages+=("${more[@]}")
    users+=("$4")
  fi
}

check() {
  missing=() packages=() users=()
  #    variable      default            Debian packages             needed by
  need CHROMIUM      /usr/bin/chromium  "chromium chromium-driver"  tests/test_docs_browser.py
  need REDIS_SERVER  redis-server       redis-server                tests/test_processes.py
  need CURL          curl               curl                        tests/test_readme.py
  need PGBOUNCER     /usr/sbin/pgbouncer pgbouncer                  "make test-pgbouncer, make cluster-*"
  need HAPROXY       /usr/sbin/haproxy  haproxy                     "make cluster-*"
}

summary() {
  local IFS=' '
  echo "${missing[*]} (for ${users[*]})"
}

check
[ ${#missing[@]} -eq 0 ] && exit 0

APT_GET=${APT_GET:-apt-get}
if [ "$(id -u)" -eq 0 ] && found "$APT_GET"; then
  echo "system-deps: missing $(summary); installing: apt-get update && apt-get install -y ${packages[*]}"
  "$APT_GET" update -qq
  DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq "${packages[@]}" >/dev/null
  check
  if [ ${#missing[@]} -gt 0 ]; then
    echo "system-deps: still missing after installing ${packages[*]}: $(summary)" >&2
    exit 1
  fi
  exit 0
fi

if found "$APT_GET"; then
  echo "system-deps: missing $(summary); run: sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
else
  echo "system-deps: missing $(summary); install ${packages[*]} with your package manager (or name the programs' paths, e.g. CHROMIUM=/path/to/chromium)" >&2
fi
exit 1
