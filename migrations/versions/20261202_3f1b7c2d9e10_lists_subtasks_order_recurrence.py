"""lists, subtasks, manual order, recurrence, per-user limits

Existing tasks stay in no list, at the top level, ordered among themselves as they were created
(positions are fractional-indexing keys, assigned here in created_at order per user). The
per-user counts that enforce the contract's limits are kept by statement-level triggers, so
every way rows come and go (cascades included) is counted.

Revision ID: 3f1b7c2d9e10
Revises: 6717da168d56
Create Date: 2026-12-02 00:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f1b7c2d9e10"
down_revision = "6717da168d56"
branch_labels = None
depends_on = None

NO_LIST = "00000000-0000-0000-0000-000000000000"
LIMITS = {"tasks": 100_000, "lists": 1_000, "tags": 1_000}
COUNTED_TABLES = ("tasks", "lists", "tags")

# The n-th key (from 0) of fractional-indexing's sequence a0, a1, ..., az, b00, ..., bzz, c000...:
# what generate_n_keys_between(None, None, n) makes, as SQL so that a million rows are keyed
# in one UPDATE. tests/test_migrations.py checks it against the library.
POSITION_KEY_FUNCTION = """
CREATE FUNCTION pg_temp.position_key(k bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    width int := 1;
    span bigint := 62;
    key text := '';
BEGIN
    WHILE k >= span LOOP
        k := k - span;
        width := width + 1;
        span := span * 62;
    END LOOP;
    FOR i IN 1..width LOOP
        key := substr(digits, (k % 62)::int + 1, 1) || key;
        k := k / 62;
    END LOOP;
    RETURN chr(ascii('a') + width - 1) || key;
END
$$
"""


def _counting_triggers(table: str) -> list[str]:
    """Two statement-level triggers that add a statement's inserted rows to their users'
    counters and subtract its deleted ones. Inserts upsert (a user's first row makes the
    counters row); deletes only update (a user being deleted takes its counters with it)."""
    return [
        f"""
        CREATE FUNCTION count_inserted_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO user_counters AS c (user_id, {table})
            SELECT user_id, count(*) FROM inserted GROUP BY user_id
            ON CONFLICT (user_id) DO UPDATE SET {table} = c.{table} + EXCLUDED.{table};
            RETURN NULL;
        END
        $$
        """,
        f"""
        CREATE FUNCTION count_deleted_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE user_counters AS c SET {table} = c.{table} - d.n
            FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) AS d
            WHERE c.user_id = d.user_id;
            RETURN NULL;
        END
        $$
        """,
        f"""
        CREATE TRIGGER {table}_counted_in AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_{table}()
        """,
        f"""
        CREATE TRIGGER {table}_counted_out AFTER DELETE ON {table}
        REFERENCING OLD TABLE AS deleted
        FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_{table}()
        """,
    ]


def upgrade():
    op.create_table(
        "lists",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_lists_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_lists_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("id", "user_id", name="uq_lists_id_user_id"),
    )
    op.create_index(
        "uq_lists_user_id_lower_name",
        "lists",
        ["user_id", sa.literal_column("lower(name)")],
        unique=True,
    )

    op.create_table(
        "user_counters",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tasks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lists", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tags", sa.Integer(), server_default="0", nullable=False),
        *(
            sa.CheckConstraint(
                f"{column} <= {limit}", name=op.f(f"ck_user_counters_{column}_limit")
            )
            for column, limit in LIMITS.items()
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_counters_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_counters")),
    )

    op.add_column("tasks", sa.Column("list_id", sa.Uuid(), nullable=True))
    op.add_column("tasks", sa.Column("parent_id", sa.Uuid(), nullable=True))
    op.add_column("tasks", sa.Column("position", sa.String(collation="C"), nullable=True))
    op.add_column(
        "tasks",
        sa.Column(
            "list_key",
            sa.Uuid(),
            sa.Computed(f"COALESCE(list_id, '{NO_LIST}'::uuid)", persisted=True),
            nullable=False,
        ),
    )
    op.add_column(
        "tasks",
        sa.Column(
            "parent_key",
            sa.Uuid(),
            sa.Computed(f"COALESCE(parent_id, '{NO_LIST}'::uuid)", persisted=True),
            nullable=False,
        ),
    )
    op.add_column("tasks", sa.Column("recurrence", sa.String(length=500), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.add_column(
        "tasks", sa.Column("recurrence_wall_clock", sa.DateTime(timezone=False), nullable=True)
    )
    op.add_column("tasks", sa.Column("next_occurrence_id", sa.Uuid(), nullable=True))

    op.execute(POSITION_KEY_FUNCTION)
    op.execute(
        """
        UPDATE tasks SET position = pg_temp.position_key(ranked.n - 1)
        FROM (
            SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS n
            FROM tasks
        ) AS ranked
        WHERE tasks.id = ranked.id
        """
    )
    op.alter_column("tasks", "position", nullable=False)

    op.create_check_constraint(op.f("ck_tasks_not_its_own_parent"), "tasks", "parent_id <> id")
    op.create_check_constraint(
        op.f("ck_tasks_recurrence_needs_due_at"),
        "tasks",
        "recurrence IS NULL OR due_at IS NOT NULL",
    )
    op.create_foreign_key(
        "fk_tasks_list_id_lists",
        "tasks",
        "lists",
        ["list_id", "user_id"],
        ["id", "user_id"],
        ondelete="CASCADE",
    )
    op.create_unique_constraint(
        "uq_tasks_id_user_id_list_key", "tasks", ["id", "user_id", "list_key"]
    )
    op.create_foreign_key(
        "fk_tasks_parent_id_tasks",
        "tasks",
        "tasks",
        ["parent_id", "user_id", "list_key"],
        ["id", "user_id", "list_key"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_tasks_next_occurrence_id_tasks"),
        "tasks",
        "tasks",
        ["next_occurrence_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # Siblings in position order: equality on every column before `position` (an IS NULL
    # condition gives PostgreSQL no order), hence the keys rather than list_id and parent_id.
    op.create_index(
        "ix_tasks_user_id_list_key_parent_key_position_id",
        "tasks",
        ["user_id", "list_key", "parent_key", "position", "id"],
    )
    # The lookups of the foreign keys' cascades when a list or a task is deleted.
    for column in ("list_id", "parent_id", "next_occurrence_id"):
        op.create_index(
            f"ix_tasks_{column}",
            "tasks",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )

    op.execute(
        """
        INSERT INTO user_counters (user_id, tasks, tags)
        SELECT users.id,
               (SELECT count(*) FROM tasks WHERE tasks.user_id = users.id),
               (SELECT count(*) FROM tags WHERE tags.user_id = users.id)
        FROM users
        """
    )
    for table in COUNTED_TABLES:
        for statement in _counting_triggers(table):
            op.execute(statement)
    # Every new account starts with its counters (the limits' rows) at zero.
    op.execute(
        """
        CREATE FUNCTION start_user_counters() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO user_counters (user_id) SELECT id FROM inserted
            ON CONFLICT (user_id) DO NOTHING;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER users_counted_in AFTER INSERT ON users
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION start_user_counters()
        """
    )


def downgrade():
    op.execute("DROP TRIGGER users_counted_in ON users")
    op.execute("DROP FUNCTION start_user_counters()")
    for table in COUNTED_TABLES:
        op.execute(f"DROP TRIGGER {table}_counted_out ON {table}")
        op.execute(f"DROP TRIGGER {table}_counted_in ON {table}")
        op.execute(f"DROP FUNCTION count_deleted_{table}()")
        op.execute(f"DROP FUNCTION count_inserted_{table}()")
    # Tasks in lists and subtasks stay, as top-level tasks in no list.
    for column in ("list_id", "parent_id", "next_occurrence_id"):
        op.drop_index(f"ix_tasks_{column}", table_name="tasks")
    op.drop_index("ix_tasks_user_id_list_key_parent_key_position_id", table_name="tasks")
    op.drop_constraint(op.f("fk_tasks_next_occurrence_id_tasks"), "tasks", type_="foreignkey")
    op.drop_constraint("fk_tasks_parent_id_tasks", "tasks", type_="foreignkey")
    op.drop_constraint("uq_tasks_id_user_id_list_key", "tasks", type_="unique")
    op.drop_constraint("fk_tasks_list_id_lists", "tasks", type_="foreignkey")
    op.drop_constraint(op.f("ck_tasks_recurrence_needs_due_at"), "tasks", type_="check")
    op.drop_constraint(op.f("ck_tasks_not_its_own_parent"), "tasks", type_="check")
    for column in (
        "next_occurrence_id",
        "recurrence_wall_clock",
        "time_zone",
        "recurrence",
        "parent_key",
        "list_key",
        "position",
        "parent_id",
        "list_id",
    ):
        op.drop_column("tasks", column)
    op.drop_table("user_counters")
    op.drop_index("uq_lists_user_id_lower_name", table_name="lists")
    op.drop_table("lists")
