"""Every module of bench/ still imports: the bench reaches into app/ (secrets, models, queries),
and a refactor there must not break a benchmark that only runs on demand."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in (ROOT / "bench").rglob("*.py")
    if ".data" not in path.parts
)


def test_there_are_modules_to_check():
    assert "bench.run" in MODULES and "bench.cluster.workers" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_the_module_imports(name):
    importlib.import_module(name)
