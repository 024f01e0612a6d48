"""A worker's RSS does not keep Argon2's working memory once a hash is done."""

from __future__ import annotations

import subprocess
import sys

from tests.support.database import PROJECT_ROOT

# A fresh interpreter: malloc's thresholds are per process, and the suite's own has moved them.
SCRIPT = """
from app.auth.passwords import Passwords

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

passwords = Passwords(time_cost=1, memory_kib=19456)  # production's memory cost
before = rss_kib()
for _ in range(3):
    passwords.verify(passwords.hash("a password"), "a password")
print(rss_kib() - before)
"""


def test_hashing_leaves_no_working_memory_resident():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    growth_kib = int(result.stdout)
    assert growth_kib < 4 * 1024  # without the fixed threshold: ~19,500 KiB
