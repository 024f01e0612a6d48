"""The readiness check's newest revisions, read from the scripts' text, are Alembic's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.core.migrations import MIGRATIONS_DIR, migration_heads


def alembic_heads(script_location: Path) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def write_script(versions: Path, revision: str, down: str, annotated: bool = False) -> None:
    if annotated:  # Alembic's newer template: `revision: str = "..."`
        header = f"revision: str = {revision!r}\ndown_revision: str | None = {down}\n"
    else:
        header = f"revision = {revision!r}\ndown_revision = {down}\n"
    source = f'"""{revision}"""\nfrom alembic import op\n\n{header}\n\ndef upgrade():\n    pass\n'
    (versions / f"{revision}_step.py").write_text(source)


def test_the_projects_migrations_have_alembics_heads():
    assert migration_heads() == alembic_heads(MIGRATIONS_DIR)
    assert len(migration_heads()) == 1


@pytest.mark.parametrize(
    "scripts",
    [
        pytest.param([("a1", "None")], id="one script"),
        pytest.param([("a1", "None"), ("b2", "'a1'"), ("c3", "'b2'")], id="a chain"),
        pytest.param([("a1", "None"), ("b2", "'a1'"), ("c3", "'a1'")], id="a branch"),
        pytest.param(
            [("a1", "None"), ("b2", "'a1'"), ("c3", "'a1'"), ("d4", "('b2', 'c3')")],
            id="a merge",
        ),
    ],
)
@pytest.mark.parametrize("annotated", [False, True], ids=["plain", "annotated"])
def test_scripts_read_as_alembic_reads_them(tmp_path, scripts, annotated):
    versions = tmp_path / "versions"
    versions.mkdir()
    for revision, down in scripts:
        write_script(versions, revision, down, annotated)
    (versions / "__init__.py").write_text("")

    assert migration_heads.__wrapped__(versions) == alembic_heads(tmp_path)
