"""The `flask` commands: users create, seed, sessions purge, tasks export (sync purge:
tests/test_changes.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select, text

from app import cli
from app.extensions import db
from app.models import LoginSession, Task, User
from tests.support.accounts import PASSWORD
from tests.support.clients import Tasks
from tests.support.problems import assert_problem


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def demo_user(number: int) -> User | None:
    return db.session.scalar(select(User).where(User.email == f"demo{number}@example.com"))


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["users"], "Manage accounts."),
        (["users", "create"], "--password"),
        (["seed"], "--users"),
        (["seed"], "--tasks"),
        (["sessions", "purge"], "--older-than-days"),
        (["tasks", "export"], "--output"),
        (["sync", "purge"], "SYNC_RETENTION_DAYS"),
    ],
)
def test_every_command_explains_itself(runner, command, says):
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
    assert says in result.output
    # A docstring, not only click's usage line.
    assert len(result.output.split("Options:")[0].strip().splitlines()) >= 3


class TestUsersCreate:
    def test_creates_an_account_that_can_log_in(self, runner, client):
        result = runner.invoke(
            args=["users", "create", "Ada@Example.com", "--name", "Ada", "--password", PASSWORD]
        )
        assert result.exit_code == 0, result.output
        user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        assert user is not None and user.name == "Ada"
        assert result.output == f"Created user {user.id} <ada@example.com>.\n"
        # Not logged in: no session until the person logs in themselves.
        assert count(LoginSession, LoginSession.user_id == user.id) == 0
        login = client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200

    def test_asks_for_the_password_twice_when_not_given(self, runner):
        result = runner.invoke(
            args=["users", "create", "grace@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
        )
        assert result.exit_code == 0, result.output
        assert PASSWORD not in result.output
        assert count(User, User.email == "grace@example.com") == 1

    def test_a_taken_email_is_refused(self, runner, user):
        result = runner.invoke(args=["users", "create", user.email.upper(), "--password", PASSWORD])
        assert result.exit_code == 1
        assert "An account with this email already exists." in result.output

    def test_the_api_rules_apply(self, runner):
        result = runner.invoke(args=["users", "create", "not-an-email", "--password", "short"])
        assert result.exit_code == 1
        assert "email: Not a valid email address." in result.output
        assert "password: Length must be between 8 and 128." in result.output
        assert count(User) == 0


class TestSeed:
    def test_creates_demo_accounts_with_tasks(self, runner, client):
        result = runner.invoke(args=["seed", "--users", "2", "--tasks", "5"])
        assert result.exit_code == 0, result.output
        for number in (1, 2):
            user = demo_user(number)
            assert user is not None
            assert count(Task, Task.user_id == user.id) == 5
        tasks = db.session.scalars(select(Task).where(Task.user_id == demo_user(1).id)).all()
        assert {task.is_completed for task in tasks} == {True, False}
        assert len({task.priority for task in tasks}) == 4
        login = client.post(
            "/api/auth/login", json={"email": "demo2@example.com", "password": "demo password"}
        )
        assert login.status_code == 200

    def test_running_again_reuses_the_accounts(self, runner):
        runner.invoke(args=["seed", "--users", "1", "--tasks", "3"])
        result = runner.invoke(args=["seed", "--users", "2", "--tasks", "3"])
        assert result.exit_code == 0, result.output
        assert "(1 new," in result.output
        assert count(Task, Task.user_id == demo_user(1).id) == 6
        assert count(Task, Task.user_id == demo_user(2).id) == 3

    def test_ten_users_with_a_hundred_tasks_each(self, runner):
        result = runner.invoke(args=["seed", "--users", "10", "--tasks", "100"])
        assert result.exit_code == 0, result.output
        assert count(User) == 10
        assert count(Task) == 1000

    def test_commits_do_not_wait_for_the_disk(self, runner, monkeypatch):
        seen = []
        real = cli.create_task

        def create_task(**kwargs):
            seen.append(db.session.execute(text("SHOW synchronous_commit")).scalar())
            return real(**kwargs)

        monkeypatch.setattr(cli, "create_task", create_task)
        assert runner.invoke(args=["seed", "--users", "1", "--tasks", "2"]).exit_code == 0
        assert seen == ["off", "off"]

    def test_production_needs_an_explicit_flag(self, runner, app, monkeypatch):
        monkeypatch.setitem(app.config, "APP_ENV", "production")
        result = runner.invoke(args=["seed", "--users", "1", "--tasks", "1"])
        assert result.exit_code == 1
        assert "--allow-production" in result.output
        assert count(User) == 0


class TestSessionsPurge:
    def age(self, session_id: str, column: str, days: int, seconds: int = 0) -> None:
        """Move a session's end into the past (the test's transaction has one `now()`)."""
        db.session.execute(
            text(
                f"UPDATE login_sessions SET {column} = now()"
                " - make_interval(days => :days, secs => :seconds) WHERE id = :id"
            ),
            {"days": days, "seconds": seconds, "id": session_id},
        )
        db.session.commit()

    def sid(self, app, token: str) -> str:
        from flask_jwt_extended import decode_token

        with app.app_context():
            return decode_token(token)["sid"]

    def test_removes_sessions_ended_long_enough_ago(self, runner, app, auth, user, client):
        revoked_long_ago = auth.login(user.email)
        expired_long_ago = auth.login(user.email)
        revoked_lately = auth.login(user.email)
        self.age(self.sid(app, revoked_long_ago.access_token), "revoked_at", 10)
        self.age(self.sid(app, expired_long_ago.access_token), "expires_at", 10)
        self.age(self.sid(app, revoked_lately.access_token), "revoked_at", 1)

        result = runner.invoke(args=["sessions", "purge", "--older-than-days", "5"])
        assert result.exit_code == 0, result.output
        assert result.output == "Purged 2 sessions.\n"
        remaining = set(map(str, db.session.scalars(select(LoginSession.id))))
        assert remaining == {
            self.sid(app, user.access_token),
            self.sid(app, revoked_lately.access_token),
        }
        # A purged session's tokens stay refused; the live one still works.
        refresh = client.post(
            "/api/auth/refresh",
            headers={"Authorization": f"Bearer {expired_long_ago.refresh_token}"},
        )
        assert_problem(refresh, 401, "token_revoked")
        assert client.get("/api/auth/me", headers=user.headers).status_code == 200

    def test_by_default_removes_every_ended_session_and_no_live_one(self, runner, app, auth, user):
        ended = auth.login(user.email)
        self.age(self.sid(app, ended.access_token), "revoked_at", 0, seconds=1)
        result = runner.invoke(args=["sessions", "purge"])
        assert result.output == "Purged 1 session.\n"
        assert count(LoginSession) == 1


class TestTasksExport:
    def test_writes_every_task_in_the_api_shape_oldest_first(self, runner, client, tasks, auth):
        for number in range(3):
            tasks.create(title=f"Task {number}", tags=["work", "Home"], priority="high")
        tasks.request("PATCH", f"/{tasks.list()['data'][0]['id']}/complete")
        Tasks(client, auth.register()).create(title="Another user's")

        result = runner.invoke(args=["tasks", "export", tasks.account.email])
        assert result.exit_code == 0, result.output
        exported = json.loads(result.stdout)
        listed = tasks.list("sort=created_at")
        assert exported == {"data": listed["data"], "meta": {"count": 3}}

    def test_pages_through_any_number(self, runner, tasks, monkeypatch):
        monkeypatch.setattr(cli, "EXPORT_PAGE", 2)
        created = [tasks.create(title=f"Task {number}")["id"] for number in range(5)]
        result = runner.invoke(args=["tasks", "export", tasks.account.email])
        exported = json.loads(result.stdout)
        assert [task["id"] for task in exported["data"]] == created
        assert exported["meta"] == {"count": 5}

    def test_to_a_file(self, runner, tasks, tmp_path):
        tasks.create(title="Ünïcode ✓")
        target = tmp_path / "tasks.json"
        result = runner.invoke(args=["tasks", "export", tasks.account.email, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert f"Exported 1 task of {tasks.account.email} to {target}." in result.stderr
        exported = json.loads(target.read_text(encoding="utf-8"))
        assert [task["title"] for task in exported["data"]] == ["Ünïcode ✓"]

    def test_no_tasks_is_an_empty_list(self, runner, user):
        result = runner.invoke(args=["tasks", "export", user.email])
        assert json.loads(result.stdout) == {"data": [], "meta": {"count": 0}}

    def test_an_unknown_email_fails(self, runner):
        result = runner.invoke(args=["tasks", "export", f"{uuid.uuid4().hex}@example.com"])
        assert result.exit_code == 1
        assert "no user with the email" in result.output
