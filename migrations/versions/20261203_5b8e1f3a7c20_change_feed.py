"""change feed: a per-user change sequence and the latest change of every list, tag and task

`user_counters.change_seq` is each user's change counter; `change_seq_of(user)` takes its next
number under that row's lock (app/common/locks.py, app/changes/__init__.py: why that makes the
feed miss nothing). Statement-level triggers on lists, tags and tasks record one row per changed
object in `changes` (its kind, id, the statement's number, whether it is deleted), so every way
a row changes is recorded, cascades included. Existing objects get a change at seq 0 and
existing users change_seq 0, so a first full snapshot of them starts at 0.

The triggers are created before the backfill, both in this one transaction: no object written
while the migration runs can be missed by both.

Revision ID: 5b8e1f3a7c20
Revises: 9c4d2e7a1b35
Create Date: 2026-12-03 00:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b8e1f3a7c20"
down_revision = "9c4d2e7a1b35"
branch_labels = None
depends_on = None

# table -> the kind its objects have in the feed
KINDS = {"lists": "list", "tags": "tag", "tasks": "task"}
# trigger suffix -> (event, transition table)
EVENTS = {"in": ("INSERT", "NEW"), "updated": ("UPDATE", "NEW"), "out": ("DELETE", "OLD")}

# Each call is a new number, taken under the lock of the user's counters row: the row stays
# locked until the transaction ends, so a user's numbers are handed out in commit order.
# An upsert rather than an UPDATE, so that a user without the row (none should exist) gets it.
CHANGE_SEQ_OF = """
CREATE FUNCTION change_seq_of(owner uuid) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    INSERT INTO user_counters AS c (user_id, change_seq) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET change_seq = c.change_seq + 1
    RETURNING c.change_seq
$$
"""

# One number per user per statement (not per row); the rows of a user being deleted are not
# recorded (its changes go with it: the cascade from users).
RECORD_CHANGES = """
CREATE FUNCTION record_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    object_kind constant text := TG_ARGV[0];
    stamp constant timestamptz := clock_timestamp();
BEGIN
    WITH owners AS MATERIALIZED (
        SELECT owner.user_id, change_seq_of(owner.user_id) AS number
        FROM (SELECT DISTINCT changed.user_id FROM changed) AS owner
        WHERE EXISTS (SELECT FROM users WHERE users.id = owner.user_id)
    )
    INSERT INTO changes AS c (user_id, kind, object_id, seq, deleted, changed_at)
    SELECT changed.user_id, object_kind, changed.id, owners.number, TG_OP = 'DELETE', stamp
    FROM changed JOIN owners ON owners.user_id = changed.user_id
    ON CONFLICT (user_id, kind, object_id) DO UPDATE
    SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, changed_at = EXCLUDED.changed_at;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.add_column(
        "user_counters",
        sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('list', 'tag', 'task')", name=op.f("ck_changes_kind_known")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_changes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", "object_id", name=op.f("pk_changes")),
    )
    op.execute(CHANGE_SEQ_OF)
    op.execute(RECORD_CHANGES)
    for table, kind in KINDS.items():
        for suffix, (event, transition) in EVENTS.items():
            op.execute(
                f"""
                CREATE TRIGGER {table}_changes_{suffix} AFTER {event} ON {table}
                REFERENCING {transition} TABLE AS changed
                FOR EACH STATEMENT EXECUTE FUNCTION record_changes('{kind}')
                """
            )
    backfill = " UNION ALL ".join(
        f"SELECT user_id, '{kind}', id, 0, false, now() FROM {table}"
        for table, kind in KINDS.items()
    )
    op.execute(
        "INSERT INTO changes (user_id, kind, object_id, seq, deleted, changed_at) "
        f"{backfill} ON CONFLICT DO NOTHING"
    )
    # Built after the backfill (one sort rather than a million inserts into the index).
    op.create_index(
        "ix_changes_user_id_seq_kind_object_id",
        "changes",
        ["user_id", "seq", "kind", "object_id"],
    )
    op.create_index(
        "ix_changes_changed_at",
        "changes",
        ["changed_at"],
        postgresql_where=sa.text("deleted"),
    )


def downgrade():
    for table in KINDS:
        for suffix in EVENTS:
            op.execute(f"DROP TRIGGER {table}_changes_{suffix} ON {table}")
    op.execute("DROP FUNCTION record_changes()")
    op.execute("DROP FUNCTION change_seq_of(uuid)")
    op.drop_index("ix_changes_changed_at", table_name="changes")
    op.drop_index("ix_changes_user_id_seq_kind_object_id", table_name="changes")
    op.drop_table("changes")
    op.drop_column("user_counters", "change_seq")
