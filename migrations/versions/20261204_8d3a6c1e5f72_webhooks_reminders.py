"""webhooks, their events and delivery log, reminders on tasks, and the job queue's schema

procrastinate's own tables and functions (the pinned 3.10.0's schema.sql, kept beside the
migrations so that a fresh database always gets the schema this revision was written for;
upgrading procrastinate adds a migration with its delta files). The webhooks' outbox:
statement-level triggers on tasks and lists stage one row per changed object of a user with an
active webhook (`event_staging`, read and emptied by the same transaction before it commits,
app/webhooks/outbox.py), so cascades (a list's tasks, a task's subtasks) are seen like direct
writes. Reminders: `remind_at`, `reminded_at` on tasks and a partial index of the due ones.

Revision ID: 8d3a6c1e5f72
Revises: 5b8e1f3a7c20
Create Date: 2026-12-04 00:10:00.000000

"""

import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8d3a6c1e5f72"
down_revision = "5b8e1f3a7c20"
branch_labels = None
depends_on = None

PROCRASTINATE_SCHEMA = Path(__file__).parents[1] / "sql" / "procrastinate-3.10.0-schema.sql"

# An object of a user with an active webhook: what a transaction's triggers stage. The reminder
# job turns this off for its own update of reminded_at (its event is task.reminder, not an
# update): set_config('taskapi.quiet_events', 'on', true) lasts until its transaction ends.
WATCHED = """
    current_setting('taskapi.quiet_events', true) IS DISTINCT FROM 'on'
    AND EXISTS (SELECT FROM webhooks w WHERE w.user_id = {row}.user_id AND w.active)
"""

STAGE_INSERTED = f"""
CREATE FUNCTION stage_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_staging (user_id, kind, object_id, op)
    SELECT n.user_id, TG_ARGV[0], n.id, 'created' FROM new_rows n
    WHERE {WATCHED.format(row="n")};
    RETURN NULL;
END
$$
"""

STAGE_DELETED = f"""
CREATE FUNCTION stage_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_staging (user_id, kind, object_id, op)
    SELECT o.user_id, TG_ARGV[0], o.id, 'deleted' FROM old_rows o
    WHERE {WATCHED.format(row="o")};
    RETURN NULL;
END
$$
"""

# A task's update is a completion or a reopening when is_completed flips, else an update; a
# row written with the values it had is no event.
STAGE_TASKS_UPDATED = f"""
CREATE FUNCTION stage_tasks_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_staging (user_id, kind, object_id, op)
    SELECT n.user_id, 'task', n.id,
           CASE WHEN n.is_completed AND NOT o.is_completed THEN 'completed'
                WHEN o.is_completed AND NOT n.is_completed THEN 'reopened'
                ELSE 'updated' END
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o IS DISTINCT FROM n AND {WATCHED.format(row="n")};
    RETURN NULL;
END
$$
"""

STAGE_LISTS_UPDATED = f"""
CREATE FUNCTION stage_lists_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_staging (user_id, kind, object_id, op)
    SELECT n.user_id, 'list', n.id, 'updated'
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o IS DISTINCT FROM n AND {WATCHED.format(row="n")};
    RETURN NULL;
END
$$
"""

# table -> (kind, function of its updates)
STAGED_TABLES = {"tasks": ("task", "stage_tasks_updated"), "lists": ("list", "stage_lists_updated")}


def _procrastinate_objects() -> dict[str, list[str]]:
    """The names schema.sql creates, by kind, for the downgrade."""
    sql = PROCRASTINATE_SCHEMA.read_text()
    return {
        kind: re.findall(rf"^CREATE {kind} (\w+)", sql, flags=re.MULTILINE)
        for kind in ("TABLE", "FUNCTION", "TYPE")
    }


def upgrade():
    # The driver's own execute: schema.sql is many statements, with colons and percent signs
    # that SQLAlchemy's text() or a parameter style would read as placeholders.
    op.get_bind().connection.driver_connection.execute(PROCRASTINATE_SCHEMA.read_text())

    op.add_column("tasks", sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tasks_due_reminders",
        "tasks",
        ["remind_at"],
        postgresql_where=sa.text(
            "remind_at IS NOT NULL AND reminded_at IS NULL AND NOT is_completed"
        ),
    )

    op.create_table(
        "webhooks",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("exhausted_in_a_row", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_webhooks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(
        "ix_webhooks_user_id_created_at_id", "webhooks", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "ix_webhooks_user_id_active", "webhooks", ["user_id"], postgresql_where=sa.text("active")
    )

    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed', 'skipped')",
            name=op.f("ck_webhook_events_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_events_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_index("ix_webhook_events_webhook_id", "webhook_events", ["webhook_id"])
    op.create_index(
        "ix_webhook_events_pending_created_at",
        "webhook_events",
        ["created_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_created_at_id",
        "webhook_deliveries",
        ["webhook_id", "created_at", "id"],
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_created_at", "webhook_deliveries", ["created_at"])

    # Rows live only inside the transaction that staged them: unlogged (no WAL; a crash can
    # only lose rows of transactions that never committed).
    op.execute(
        """
        CREATE UNLOGGED TABLE event_staging (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
            staged_at timestamptz NOT NULL DEFAULT now(),
            user_id uuid NOT NULL,
            kind varchar(4) NOT NULL,
            object_id uuid NOT NULL,
            op varchar(10) NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ix_event_staging_xact ON event_staging (xact)")
    for function in (STAGE_INSERTED, STAGE_DELETED, STAGE_TASKS_UPDATED, STAGE_LISTS_UPDATED):
        op.execute(function)
    for table, (kind, updated) in STAGED_TABLES.items():
        op.execute(
            f"""
            CREATE TRIGGER {table}_events_in AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION stage_inserted('{kind}')
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER {table}_events_updated AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {updated}()
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER {table}_events_out AFTER DELETE ON {table}
            REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION stage_deleted('{kind}')
            """
        )


def downgrade():
    for table in STAGED_TABLES:
        for suffix in ("in", "updated", "out"):
            op.execute(f"DROP TRIGGER {table}_events_{suffix} ON {table}")
    for function in (
        "stage_inserted",
        "stage_deleted",
        "stage_tasks_updated",
        "stage_lists_updated",
    ):
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP TABLE event_staging")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhooks")
    op.drop_index("ix_tasks_due_reminders", table_name="tasks")
    op.drop_column("tasks", "reminded_at")
    op.drop_column("tasks", "remind_at")
    objects = _procrastinate_objects()
    for name in objects["TABLE"]:
        op.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
    for name in objects["FUNCTION"]:
        op.execute(f"DROP FUNCTION IF EXISTS {name} CASCADE")
    for name in objects["TYPE"]:
        op.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
