"""search index per user (btree_gin)

A composite GIN index on (user_id, search): a search reads only the posting lists of the
user's own matches, so its cost follows the matches, not the user's task count, and no
other user's rows are visited (the dropped global GIN index intersected every user's
matches). btree_gin gives GIN an operator class for the uuid column; it is one of
PostgreSQL's contrib modules (in the embedded server, Debian's postgresql-15, Neon and the
services listed in docs/embedded-postgres.md) and a trusted one, so a database owner
without superuser can create it. Measured: docs/embedded-postgres.md.

Revision ID: 6717da168d56
Revises: 7c2e5d1a9b40
Create Date: 2026-12-01 23:45:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "6717da168d56"
down_revision = "7c2e5d1a9b40"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_user_id_search", ["user_id", "search"], unique=False, postgresql_using="gin"
        )


def downgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_user_id_search", postgresql_using="gin")
    op.execute("DROP EXTENSION IF EXISTS btree_gin")
