"""an event row defers its own delivery job, in the statement that writes it

A statement-level trigger on `webhook_events` calls procrastinate's `procrastinate_defer_jobs_v1`
(the function its own `defer` calls, from the pinned 3.10.0 schema) with one
`webhooks:deliver_event` job per inserted pending event (a disabled webhook's ping is written
already skipped), built as `batch_defer` built them (queue `default`, priority 0, no locks,
`{"event_id": ...}`; tests/test_webhooks.py compares the two). So no pending event exists
without its job, whoever writes it, and a write with a webhook saves a statement's round trip
and Python (bench/README.md#webhooks-issue-15). Upgrading procrastinate: a release that drops
`procrastinate_defer_jobs_v1` or its `procrastinate_job_to_defer_v1` type needs a new version
of this function in the same migration.

Revision ID: a4c7e9d2b6f1
Revises: 8d3a6c1e5f72
Create Date: 2026-12-05 00:10:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "a4c7e9d2b6f1"
down_revision = "8d3a6c1e5f72"
branch_labels = None
depends_on = None

DEFER_DELIVERIES = """
CREATE FUNCTION defer_event_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW(
            'default', 'webhooks:deliver_event', 0, NULL, NULL,
            jsonb_build_object('event_id', inserted.id::text), NULL
        )::procrastinate_job_to_defer_v1
        FROM inserted
        WHERE inserted.state = 'pending'
    ));
    RETURN NULL;
END $$
"""


def upgrade():
    op.execute(DEFER_DELIVERIES)
    op.execute(
        """
        CREATE TRIGGER webhook_events_deliveries AFTER INSERT ON webhook_events
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION defer_event_deliveries()
        """
    )


def downgrade():
    op.execute("DROP TRIGGER webhook_events_deliveries ON webhook_events")
    op.execute("DROP FUNCTION defer_event_deliveries()")
