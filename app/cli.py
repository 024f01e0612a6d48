"""Operator commands (`flask --app wsgi ...`): accounts, demo data, purges, task export."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy import Connection, event

from app.auth.schemas import RegisterSchema
from app.auth.service import create_user, get_user_by_email, purge_sessions
from app.changes.service import purge_tombstones
from app.common.fields import format_utc
from app.core import idempotency
from app.core.migrations import migration_commands
from app.errors import ApiError
from app.extensions import db
from app.models import Priority, User
from app.tasks.schemas import TaskCreateSchema, TaskSchema
from app.tasks.service import create_task, list_tasks

users_cli = AppGroup("users", help="Manage accounts.")
sessions_cli = AppGroup("sessions", help="Maintain login sessions.")
tasks_cli = AppGroup("tasks", help="Read users' tasks.")
idempotency_cli = AppGroup("idempotency", help="Maintain the answers kept for Idempotency-Key.")
sync_cli = AppGroup("sync", help="Maintain the change feed.")

DEMO_PASSWORD = "demo password"
DEMO_TITLES = (
    "Buy milk",
    "Call the plumber",
    "Write the quarterly report",
    "Book flights to Lisbon",
    "Renew passport",
    "Water the plants",
    "Review the pull request",
    "Pay the electricity bill",
    "Plan the team offsite",
    "Read chapter 4",
)
DEMO_TAGS = ("home", "work", "errands", "urgent", "someday")
PRIORITIES = tuple(Priority)
EXPORT_PAGE = 500
TASK_BODY = TaskCreateSchema()


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _valid_account(email: str, password: str, name: str | None) -> dict:
    """The API's own rules for email, password and name, so the CLI cannot make what the API
    would refuse."""
    try:
        return RegisterSchema().load({"email": email, "password": password, "name": name})
    except ValidationError as error:
        problems = "; ".join(
            f"{field}: {' '.join(messages)}"
            for field, messages in sorted(error.normalized_messages().items())
        )
        raise _fail(problems) from None


def _add_account(email: str, password: str, name: str | None) -> User:
    account = _valid_account(email, password, name)
    try:
        return create_user(**account)
    except ApiError as error:
        raise _fail(str(error)) from None


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name (at most 100 characters).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="8 to 128 characters; asked for (hidden, twice) when not given.",
)
def create_user_command(email: str, name: str | None, password: str) -> None:
    """Create the account EMAIL, under the API's rules, without logging it in."""
    user = _add_account(email, password, name)
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}>.")


def _demo_task(number: int, now: datetime) -> dict:
    """The `number`th demo task: a spread of priorities, due dates (some overdue), tags and
    completions, the same on every run."""
    tags = {DEMO_TAGS[number % len(DEMO_TAGS)]}
    if number % 3 == 0:
        tags.add(DEMO_TAGS[(number * 2 + 1) % len(DEMO_TAGS)])
    return {
        "title": f"{DEMO_TITLES[number % len(DEMO_TITLES)]} #{number + 1}",
        "description": "Made by `flask seed`." if number % 2 else None,
        "priority": PRIORITIES[number % len(PRIORITIES)].value,
        "due_at": None if number % 4 == 3 else format_utc(now + timedelta(days=number % 21 - 7)),
        "tags": sorted(tags),
        "is_completed": number % 5 == 0,
    }


@contextmanager
def _commits_without_waiting_for_disk() -> Iterator[None]:
    """The services commit once per task, and each commit waits for its WAL flush (about 5 ms
    on a plain disk). Demo data needs no such guarantee: with `synchronous_commit` off in each
    of this session's transactions (SET LOCAL, nothing outlives them), seeding goes several
    times faster, and a crash could only lose the last moments' rows."""
    session = db.session()

    def relax(session: Any, transaction: Any, connection: Connection) -> None:
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO off")

    event.listen(session, "after_begin", relax)
    try:
        yield
    finally:
        event.remove(session, "after_begin", relax)


@click.command("seed")
@with_appcontext
@click.option(
    "--users",
    "user_count",
    default=3,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Demo accounts: demo1@example.com, demo2@example.com, ...",
)
@click.option(
    "--tasks",
    "task_count",
    default=20,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Tasks to add to each demo account.",
)
@click.option(
    "--password",
    default=DEMO_PASSWORD,
    show_default=True,
    help="Password of the accounts it creates.",
)
@click.option(
    "--allow-production",
    is_flag=True,
    help="Seed even when APP_ENV=production (demo accounts have a known password).",
)
def seed_command(user_count: int, task_count: int, password: str, allow_production: bool) -> None:
    """Fill the database with demo accounts and their tasks.

    It goes through the API's own services. Accounts that exist already are reused, so
    running it again adds tasks to them.
    """
    if current_app.config["APP_ENV"] == "production" and not allow_production:
        raise _fail("refusing to seed a production database without --allow-production")
    now = datetime.now(UTC).replace(microsecond=0)
    created = 0
    with _commits_without_waiting_for_disk():
        for index in range(1, user_count + 1):
            email = f"demo{index}@example.com"
            user = get_user_by_email(email=email)
            if user is None:
                user = _add_account(email, password, f"Demo user {index}")
                db.session.commit()
                created += 1
            for number in range(task_count):
                data = TASK_BODY.load(_demo_task(number, now))  # the API's own rules
                create_task(user_id=user.id, data=data)
                db.session.commit()  # the services never commit: a command does, as requests do
    click.echo(
        f"Seeded {user_count} users ({created} new, password {password!r} for new ones) "
        f"with {task_count} tasks each."
    )


@sessions_cli.command("purge")
@click.option(
    "--older-than-days",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keep sessions that expired or were revoked fewer days ago than this.",
)
def purge_sessions_command(older_than_days: int) -> None:
    """Delete expired and revoked login sessions.

    Their refresh tokens go with them; live sessions are never touched, and any token of a
    deleted session stays refused.
    """
    purged = purge_sessions(older_than=timedelta(days=older_than_days))
    db.session.commit()
    click.echo(f"Purged {purged} session{'' if purged == 1 else 's'}.")


@idempotency_cli.command("purge")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=0),
    default=None,
    help="Keep answers younger than this (default: IDEMPOTENCY_TTL_HOURS).",
)
def purge_idempotency_command(older_than_hours: int | None) -> None:
    """Delete the answers kept for Idempotency-Key past their time (retries of them run afresh)."""
    hours = (
        current_app.config["IDEMPOTENCY_TTL_HOURS"]
        if older_than_hours is None
        else older_than_hours
    )
    purged = idempotency.purge(older_than=timedelta(hours=hours))
    db.session.commit()
    click.echo(f"Purged {purged} idempotency record{'' if purged == 1 else 's'}.")


@sync_cli.command("purge")
def purge_tombstones_command() -> None:
    """Delete the change feed's tombstones older than SYNC_RETENTION_DAYS (and a day).

    Sync tokens that old are refused already (410 sync_expired); live objects' changes stay.
    """
    retention = timedelta(days=current_app.config["SYNC_RETENTION_DAYS"])
    purged = purge_tombstones(retention=retention)
    db.session.commit()
    click.echo(f"Purged {purged} tombstone{'' if purged == 1 else 's'}.")


def _write_tasks(user: User, output: IO[str]) -> int:
    """Stream every task of `user`, oldest first, one per line, page by page (memory stays
    flat however many there are)."""
    output.write('{"data": [')
    schema = TaskSchema()
    count = 0
    cursor = None
    while True:
        page = list_tasks(
            user_id=user.id,
            filters={},
            sort="created_at",
            limit=EXPORT_PAGE,
            cursor=cursor,
        )
        for task in page.tasks:
            output.write(",\n  " if count else "\n  ")
            output.write(current_app.json.dumps(schema.dump(task)))
            count += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    output.write(f'\n], "meta": {{"count": {count}}}}}\n')
    return count


@tasks_cli.command("export")
@click.argument("email")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    show_default=True,
    help="File to write (replaced only once complete); - for standard output.",
)
def export_tasks_command(email: str, output: str) -> None:
    """Write every task of the user EMAIL as JSON.

    In the API's own shape, oldest first: {"data": [task, ...], "meta": {"count": n}}.
    """
    user = get_user_by_email(email=email)
    if user is None:
        raise _fail(f"no user with the email {email.strip().lower()}")
    with click.open_file(output, "w", encoding="utf-8", atomic=output != "-") as stream:
        count = _write_tasks(user, stream)
    if output != "-":
        noun = "task" if count == 1 else "tasks"
        click.echo(f"Exported {count} {noun} of {user.email} to {output}.", err=True)


worker_cli = AppGroup("worker", help="The job-queue worker: webhook deliveries and reminders.")
webhooks_cli = AppGroup("webhooks", help="Maintain webhook secrets.")


@worker_cli.command("run")
@click.option("--concurrency", type=int, default=None, help="Jobs at once (WORKER_CONCURRENCY).")
def run_worker_command(concurrency: int | None) -> None:
    """Run a worker until SIGTERM (make worker; make run starts one beside gunicorn)."""
    from app import jobs
    from app.webhooks.worker_metrics import serve_metrics

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    serve_metrics(app)
    jobs.run_worker(app, concurrency=concurrency or app.config["WORKER_CONCURRENCY"])


@worker_cli.command("health")
@click.option("--max-age", type=float, default=30.0, help="Seconds a heartbeat may be old.")
@with_appcontext
def worker_health(max_age: float) -> None:
    """Exit 0 when some worker's heartbeat is younger than --max-age seconds, else 1."""
    from sqlalchemy import text

    age = db.session.scalar(
        text("SELECT extract(epoch FROM now() - max(last_heartbeat)) FROM procrastinate_workers")
    )
    if age is None or float(age) > max_age:
        click.echo(
            f"no live worker (newest heartbeat: {'none' if age is None else f'{age:.0f}s ago'})"
        )
        raise SystemExit(1)
    click.echo(f"a worker is live (heartbeat {float(age):.0f}s ago)")


@webhooks_cli.command("new-key")
def new_webhook_key() -> None:
    """Print a new key for WEBHOOK_SECRET_KEY (put it first; keep the old ones after it)."""
    from app.webhooks.secrets import generate_key

    click.echo(generate_key())


@webhooks_cli.command("rotate-secrets")
@with_appcontext
def rotate_webhook_secrets() -> None:
    """Seal every webhook secret again with WEBHOOK_SECRET_KEY's first key."""
    from app.models import Webhook
    from app.webhooks.secrets import SecretBox

    box = SecretBox.from_setting(current_app.config["WEBHOOK_SECRET_KEY"])
    webhooks = db.session.scalars(db.select(Webhook).with_for_update()).all()
    for webhook in webhooks:
        webhook.secret = box.rotate(webhook.secret)
    db.session.commit()
    click.echo(f"{len(webhooks)} secrets sealed with the newest key")


def register_commands(app: Flask) -> None:
    """Add the commands to `flask`, Flask-Migrate's `db` among them."""
    commands = (users_cli, sessions_cli, tasks_cli, idempotency_cli, sync_cli, seed_command)
    for command in (*commands, worker_cli, webhooks_cli, migration_commands):
        app.cli.add_command(command)
