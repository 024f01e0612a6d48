"""A client generated from the committed openapi.json (openapi-python-client) works against a
real server: what a client team would do with the document, end to end."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.accounts import PASSWORD
from tests.support.servers import PROJECT_ROOT, gunicorn_server

BIN = Path(sys.executable).parent
GENERATOR = BIN / "openapi-python-client"
PACKAGE = "task_api_client"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client freshly generated from openapi.json (never a stale copy), imported."""
    if not GENERATOR.is_file():
        pytest.fail(
            f"{GENERATOR} is missing: install requirements-dev.txt (make install)", pytrace=False
        )
    root = tmp_path_factory.mktemp("generated")
    output = root / PACKAGE
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(PROJECT_ROOT / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(output),
        ],
        cwd=root,
        # The generator formats its output with the ruff it finds on PATH: the venv's.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    messages = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 0, "\n".join(messages)
    # Anything beyond this line is a warning about the document (a part left out, say).
    assert messages == [f"Generating {output}"], "\n".join(messages)

    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.mark.commits
def test_a_generated_client_registers_logs_in_and_manages_tasks(client_package, database_url):
    from task_api_client import AuthenticatedClient, Client
    from task_api_client.api.auth import get_me, login, register
    from task_api_client.api.tasks import (
        complete_task,
        create_task,
        delete_task,
        get_task,
        list_tasks,
    )
    from task_api_client.models import (
        ListTasksPriorityItem,
        ListTasksSort,
        ListTasksStatus,
        Login,
        Problem,
        Register,
        TaskCompletion,
        TaskCreate,
        TaskCreatePriority,
    )

    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    with gunicorn_server({"DATABASE_URL": database_url}) as base_url:
        anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
        registered = register.sync_detailed(
            client=anonymous, body=Register(email=email, password=PASSWORD, name="Ada")
        )
        assert registered.status_code == 201
        user = registered.parsed.data.user
        assert (user.email, user.name) == (email, "Ada")

        logged_in = login.sync_detailed(
            client=anonymous, body=Login(email=email.upper(), password=PASSWORD)
        )
        assert logged_in.status_code == 200
        assert logged_in.parsed.data.token_type == "Bearer"
        api = AuthenticatedClient(
            base_url=base_url,
            token=logged_in.parsed.data.access_token,
            raise_on_unexpected_status=True,
        )
        assert get_me.sync(client=api).data.id == user.id

        due = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
        created = {}
        for title, priority, tags, due_at in [
            ("Buy milk", TaskCreatePriority.HIGH, ["errands"], due),
            ("Pay rent", TaskCreatePriority.HIGH, ["home"], None),
            ("Buy stamps", TaskCreatePriority.LOW, ["errands"], due),
        ]:
            answer = create_task.sync_detailed(
                user.id,
                client=api,
                body=TaskCreate(title=title, priority=priority, tags=tags, due_at=due_at),
            )
            assert answer.status_code == 201
            task = answer.parsed.data
            assert answer.headers["Location"].endswith(f"/api/{user.id}/tasks/{task.id}")
            assert answer.headers["ETag"]
            created[title] = task
        milk = created["Buy milk"]
        assert (milk.due_at, milk.tags, milk.is_completed) == (due, ["errands"], False)

        def titles(**filters) -> list[str]:
            page = list_tasks.sync(user.id, client=api, **filters)
            assert page.meta.count == len(page.data)
            assert page.meta.next_cursor is None
            return [task.title for task in page.data]

        high = [ListTasksPriorityItem.HIGH]
        assert titles(priority=high, sort=ListTasksSort.TITLE) == ["Buy milk", "Pay rent"]
        assert titles(tag=["errands"], sort=ListTasksSort.TITLE_DESC) == ["Buy stamps", "Buy milk"]
        assert titles(tag=["errands"], priority=high, q="milk") == ["Buy milk"]
        assert titles(due_before=datetime(2026, 12, 1, tzinfo=UTC), sort=ListTasksSort.TITLE) == [
            "Buy milk",
            "Buy stamps",
        ]

        done = complete_task.sync(
            user.id, milk.id, client=api, body=TaskCompletion(is_completed=True)
        ).data
        assert done.is_completed is True
        assert done.completed_at is not None
        assert titles(status=ListTasksStatus.COMPLETED) == ["Buy milk"]
        # No body at all toggles, as the document says the body is optional.
        assert complete_task.sync(user.id, milk.id, client=api).data.is_completed is False
        assert titles(status=ListTasksStatus.COMPLETED) == []

        deleted = delete_task.sync_detailed(user.id, milk.id, client=api)
        assert deleted.status_code == 204
        gone = get_task.sync(user.id, milk.id, client=api)
        assert isinstance(gone, Problem)
        assert (gone.status, gone.code) == (404, "not_found")
        assert titles(sort=ListTasksSort.TITLE) == ["Buy stamps", "Pay rent"]
