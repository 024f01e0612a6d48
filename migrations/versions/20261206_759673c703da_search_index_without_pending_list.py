"""the per-user search index takes each insert at once (GIN fastupdate off)

With fastupdate on (GIN's default), new entries wait in a pending list until a VACUUM or the
list's 4 MB limit flushes them, and every search reads the whole list, whichever user it is
for: after one `make bench` it held 10,251 entries (179 pages) and a search of 12 matches read
189 buffers for them, 4.6 ms in EXPLAIN ANALYZE against 0.26 ms once flushed. Off, an insert
updates the index itself (bench/README.md, "GIN's pending list", for the writes' cost), and no
unlucky insert flushes 4 MB for everyone. The entries already pending are flushed here.

Revision ID: 759673c703da
Revises: a4c7e9d2b6f1
Create Date: 2026-12-06 21:40:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "759673c703da"
down_revision = "a4c7e9d2b6f1"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER INDEX ix_tasks_user_id_search SET (fastupdate = off)")
    op.execute("SELECT gin_clean_pending_list('ix_tasks_user_id_search')")


def downgrade():
    op.execute("ALTER INDEX ix_tasks_user_id_search RESET (fastupdate)")
