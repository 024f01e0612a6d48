"""The migrations: their newest revisions, and Flask-Migrate's `flask db` bound when it runs."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

# Why neither Alembic nor Flask-Migrate is imported at the top: they were 9.6 MB of every
# gunicorn worker's RSS (`import wsgi` 97.3 -> 87.7 MB without them, 2026-12-06), and the web
# needs them for nothing but the readiness check's newest revisions, which the scripts' own
# text gives. tests/test_migration_heads.py holds migration_heads to Alembic's answer.


@cache
def migration_heads(versions: Path = MIGRATIONS_DIR / "versions") -> frozenset[str]:
    """The revisions no other script names as its down_revision, read once per process."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        names = _module_constants(path)
        if not isinstance(names.get("revision"), str):
            continue
        revisions.add(names["revision"])
        down = names.get("down_revision")
        # A merge names a tuple of parents; the first script names None.
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _module_constants(path: Path) -> dict[str, Any]:
    """The literal values assigned at a script's top level (`revision = "…"`, annotated too)."""
    constants: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                constants[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return constants


def bind_migrations(app: Flask) -> None:
    """Give the app Flask-Migrate's configuration (the `db` commands and upgrade() need it)."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from app.extensions import db

    Migrate(app, db, directory=str(MIGRATIONS_DIR), compare_type=True)


class MigrationCommands(click.Command):
    """`flask db`: hands its arguments to Flask-Migrate's group, imported when it is invoked."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        from flask_migrate.cli import db as commands

        # `flask` has loaded the app and pushed its context before it builds a command's.
        bind_migrations(current_app._get_current_object())  # type: ignore[attr-defined]
        return commands.make_context(info_name, args, parent=parent, **extra)


migration_commands = MigrationCommands("db", help="Perform database migrations.")
