"""What the periodic tidy job cleans: staged outbox rows left behind by writes outside requests."""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db

# A transaction takes its own staged rows before it commits (app/webhooks/outbox.py); rows an
# hour old belong to writes that never did (a script, a shell) and would wait forever.
DROP_STALE = text("DELETE FROM event_staging WHERE staged_at < now() - interval '1 hour'")


def drop_stale_staging() -> int:
    """Delete the stale staged rows; how many there were."""
    from app.jobs import flask_context

    with flask_context():
        deleted: int = db.session.execute(DROP_STALE).rowcount  # type: ignore[attr-defined]
        db.session.commit()
    return deleted
