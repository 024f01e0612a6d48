"""The house rules that keep resources easy to add, checked over the source (no app is run).

- No package of app/ but app/auth knows how tokens or sessions work: no flask-jwt-extended, no
  app.auth module but the guard (app/common/blueprints.py applies it to every resource). The
  modules at app/'s root (the factory, the extension singletons, the CLI) do the wiring.
- Services take plain values: no module named service.py reads `g`, `request` or the JWT.
- Resource packages hold no SQL in their views: routes.py imports no SQLAlchemy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
TOKEN_INTERNALS = {"flask_jwt_extended", "jwt"}
ALLOWED_AUTH_IMPORTS = {"app.auth.guard"}
REQUEST_STATE = {"g", "request", "session"}


def _modules(*, outside: str | None = None, named: str | None = None) -> list[Path]:
    """The modules of app/'s packages (not its root), but those of `outside`."""
    found = [
        path
        for path in sorted(APP.glob("*/**/*.py"))
        if path.relative_to(APP).parts[0] != outside and (named is None or path.name == named)
    ]
    assert found, "the rule would check nothing"
    return found


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file; names empty for `import x`."""
    imports: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imports += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.append((node.module, [alias.name for alias in node.names]))
    return imports


def _name(path: Path) -> str:
    return str(path.relative_to(APP.parent))


@pytest.mark.parametrize("path", _modules(outside="auth"), ids=_name)
def test_only_app_auth_knows_tokens(path):
    for module, _ in _imports(path):
        root = module.split(".")[0]
        assert root not in TOKEN_INTERNALS, f"{_name(path)} imports {module}"
        if module.startswith("app.auth"):
            assert module in ALLOWED_AUTH_IMPORTS, f"{_name(path)} imports {module}"


@pytest.mark.parametrize("path", _modules(named="service.py"), ids=_name)
def test_services_take_plain_values(path):
    for module, names in _imports(path):
        assert module.split(".")[0] not in TOKEN_INTERNALS, f"{_name(path)} imports {module}"
        if module == "flask":
            assert not REQUEST_STATE & set(names), f"{_name(path)} imports flask's {names}"


@pytest.mark.parametrize("path", _modules(named="routes.py"), ids=_name)
def test_views_hold_no_sql(path):
    for module, _ in _imports(path):
        assert module.split(".")[0] != "sqlalchemy", f"{_name(path)} imports {module}"


def test_the_rules_catch_a_violation(tmp_path):
    """The checks read real imports: a file that breaks each rule is caught."""
    bad = tmp_path / "service.py"
    bad.write_text(
        "from flask import g\nfrom flask_jwt_extended import get_jwt\nimport sqlalchemy\n"
    )
    assert ("flask", ["g"]) in _imports(bad)
    assert ("flask_jwt_extended", ["get_jwt"]) in _imports(bad)
    assert ("sqlalchemy", []) in _imports(bad)


def test_services_leave_the_commit_to_the_request():
    """app/core/transactions.py commits a request's work once its answer is a success, so a
    batch is one transaction and a write commits with what is recorded for it. The one
    exception: a reused refresh token's revocation must hold although its answer is a 401."""
    commits = {
        _name(path): path.read_text(encoding="utf-8").count("session.commit(")
        for path in _modules(named="service.py")
    }
    assert {name: n for name, n in commits.items() if n} == {"app/auth/service.py": 1}
