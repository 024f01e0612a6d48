"""The README's shell examples work, pasted in order as a newcomer would, against a live gunicorn.

The rule: every block fenced ```sh in README.md is an example that runs. The blocks are joined
in the README's order and run as ONE `bash -e` session, with API= pointing at the server; each
request goes through the README's own `call STATUS curl-args...`, which fails the session
unless the answer has STATUS, so an example that stops working (or claims a wrong status)
fails the test. Blocks that are not meant to run here (setting up, production, containers) are
fenced ```console instead and are never run; a ```json block is data, not a command. A ```python
block is a receiver's code: each is run, and what it defines is called. No other fence is
allowed, so every block is run or visibly not.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from app.webhooks.delivery import signature_headers
from app.webhooks.secrets import new_secret
from tests.support.servers import PROJECT_ROOT, gunicorn_server

README = PROJECT_ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)", re.MULTILINE)
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CLAIMED_STATUS = re.compile(r"^\s*call (\d{3}) ", re.MULTILINE)
PRINTED_STATUS = re.compile(r"^(\d{3})(?: |$)", re.MULTILINE)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ALLOWED_FENCES = {"sh", "console", "json", "python"}

pytestmark = pytest.mark.slow


def readme_session() -> str:
    """Every ```sh block of the README, in order: one script."""
    return "\n".join(SH_BLOCK.findall(README.read_text()))


def run_session(script: str, base_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run `script` as one `bash -e` session against the server at `base_url`, with the curl
    that scripts/system-deps.sh found (CURL, when set, comes first on PATH)."""
    path = os.environ.get("PATH", "")
    curl = os.environ.get("CURL")
    if curl and "/" in curl:
        path = f"{Path(curl).parent}{os.pathsep}{path}"
    return subprocess.run(
        ["bash", "-e", "-c", script],
        # TMPDIR: the session's `mktemp -d` lands in the test's own directory.
        env={**os.environ, "API": base_url, "TMPDIR": str(tmp_path), "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def server(database_url: str):
    # The webhooks example points at 127.0.0.1, as the README says its server allows.
    with gunicorn_server(
        {"DATABASE_URL": database_url, "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    ) as base_url:
        yield base_url


def test_every_fence_is_run_or_visibly_not():
    fences = FENCE.findall(README.read_text())
    # Fences open and close: the opening ones are every other one.
    assert set(fences[0::2]) <= ALLOWED_FENCES
    assert set(fences[1::2]) == {""}


@pytest.mark.commits
def test_the_examples_run_as_one_session_with_the_statuses_they_claim(server, tmp_path):
    script = readme_session()
    result = run_session(script, server, tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    claimed = CLAIMED_STATUS.findall(script)
    assert PRINTED_STATUS.findall(result.stdout) == claimed


@pytest.mark.commits
def test_a_wrong_status_claim_stops_the_session_there(server, tmp_path):
    script = readme_session()
    first = CLAIMED_STATUS.search(script)
    assert first is not None and first.group(1) == "201"
    wrong = script[: first.start(1)] + "200" + script[first.end(1) :]
    result = run_session(wrong, server, tmp_path)
    assert result.returncode == 1
    assert PRINTED_STATUS.findall(result.stdout) == ["201"]
    assert result.stderr == "expected 200, got 201\n"


def test_the_receivers_verification_accepts_a_signed_event_and_refuses_a_forged_one():
    """The README's receiver code, run: it verifies what the service signs (app/webhooks/
    delivery.signature_headers), and refuses a body changed after signing."""
    (block,) = PYTHON_BLOCK.findall(README.read_text())
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    secret = new_secret()
    body = b'{"type":"task.completed","timestamp":"2026-12-01T09:00:00Z","data":{"id":"x"}}'
    headers = signature_headers(secret, "evt_1", int(time.time()), body)
    assert namespace["verified_event"](secret, body, headers)["type"] == "task.completed"
    with pytest.raises(namespace["WebhookVerificationError"]):
        namespace["verified_event"](secret, body.replace(b"x", b"y"), headers)
