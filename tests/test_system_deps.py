"""scripts/system-deps.sh: make test finds the programs the tests run before pytest starts, and
stops at once with the one command to run when it cannot install them itself.

The programs' places are overridden through the same variables the tests read (CHROMIUM,
REDIS_SERVER, CURL) and APT_GET, so the missing branches run without uninstalling anything.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from tests.support.servers import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "system-deps.sh"
MISSING_CHROMIUM = "/nonexistent/chromium"
# Any program that surely exists, for the entries a test does not make missing.
PRESENT = shutil.which("sh") or "/bin/sh"
NOBODY = 65534


def system_deps(env: dict[str, str], as_user: bool = False) -> subprocess.CompletedProcess:
    """Run the script with `env` over the environment; `as_user` runs it without root (the
    script comes on stdin, so its directory need not be readable by that user)."""
    command = ["bash", "-s"]
    if as_user and os.geteuid() == 0:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + command
    return subprocess.run(
        command,
        input=SCRIPT.read_text(),
        env={**os.environ, "CHROMIUM": PRESENT, "REDIS_SERVER": "sh", "CURL": "sh", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nothing_is_printed_when_every_program_is_found():
    result = system_deps({})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_missing_program_without_apt_get_stops_with_one_line():
    result = system_deps({"CHROMIUM": MISSING_CHROMIUM, "APT_GET": "/nonexistent/apt-get"})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"system-deps: missing {MISSING_CHROMIUM} (for tests/test_docs_browser.py); install "
        "chromium chromium-driver with your package manager (or name the programs' paths, "
        "e.g. CHROMIUM=/path/to/chromium)\n"
    )


def test_a_missing_program_without_root_names_the_apt_get_command():
    # As a user the script only looks for apt-get, so any program stands for it here.
    result = system_deps(
        {"CHROMIUM": MISSING_CHROMIUM, "REDIS_SERVER": "no-such-redis-server", "APT_GET": PRESENT},
        as_user=True,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"system-deps: missing {MISSING_CHROMIUM} no-such-redis-server (for "
        "tests/test_docs_browser.py tests/test_processes.py); run: sudo apt-get update && "
        "sudo apt-get install -y chromium chromium-driver redis-server\n"
    )


def test_make_test_runs_the_check_before_pytest():
    # Flags of an outer make (when make test runs this) must not change what this one prints.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry_run = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "test"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    commands = dry_run.stdout.splitlines()
    assert commands[0] == "scripts/system-deps.sh"
    # The venv's pytest (.venv, or the one `make test-python` names: VENV comes from its make).
    assert re.match(r"^\S+/bin/pytest( |$)", commands[-1]), commands[-1]
