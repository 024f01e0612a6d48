"""search without the global GIN index

Every search is within one user's tasks. The GIN index over all users' vectors made
PostgreSQL intersect the user's rows with every user's matches: a common word (145,706 of 1M
tasks) took 10 ms for the count alone, 21-40 ms a page with a generic plan, growing with
the whole table. Matching the user's own rows (user_id index first) costs ~2-8 ms for 1,000
tasks, however many other users there are.

Revision ID: 7c2e5d1a9b40
Revises: 0ecdcc7fc15e
Create Date: 2026-11-22 07:45:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "7c2e5d1a9b40"
down_revision = "0ecdcc7fc15e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_search", postgresql_using="gin")


def downgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_search", ["search"], unique=False, postgresql_using="gin")
