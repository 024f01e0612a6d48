"""HTTP route of /api/{user_id}/changes: the full snapshot and the changes after a token."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from app.changes import service
from app.changes.schemas import ChangesEnvelope, ChangesQueryArgsSchema, changed_object2properties
from app.common.blueprints import UserBlueprint
from app.common.docs import errors
from app.core.database import read_only


class ChangesBlueprint(UserBlueprint):
    """A UserBlueprint whose documentation knows how a change's `data` is written (oneOf the
    kinds' schemas), taught to the Api's converter when the blueprint is registered."""

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, **kwargs: Any) -> None:
        converter = api.ma_plugin.converter
        if not hasattr(converter, changed_object2properties.__name__):
            converter.add_attribute_function(changed_object2properties)
        super().register_views_in_doc(api, app, spec, **kwargs)


blp = ChangesBlueprint(
    "changes", __name__, description="A user's changes, for clients that keep a local copy."
)


@blp.route("/changes")
class Changes(MethodView):
    @read_only
    @blp.arguments(ChangesQueryArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, ChangesEnvelope)
    @errors(blp, 400, 403, 410, 422, auth=True)
    @blp.doc(operationId="listChanges")
    def get(self, args: dict, user_id: uuid.UUID) -> dict:
        """Sync: a full snapshot, then every list, tag and task changed after a token.

        Without `since`: every live list, tag and task, as changes, `limit` per page; follow
        `meta.next_since` while `meta.has_more`. With `since`: every object created, changed
        or deleted since, oldest change first, each once in its latest state (`data` null when
        deleted). Always continue from the latest `next_since`, also after the last page: it
        misses nothing, even of writes that commit in another order than they started. A token
        older than the 30 days of deletions kept (`SYNC_RETENTION_DAYS`) is 410 `sync_expired`:
        start again without `since`.
        """
        page = service.read_changes(user_id=user_id, since=args.get("since"), limit=args["limit"])
        return {
            "data": page.changes,
            "meta": {"next_since": page.next_since, "has_more": page.has_more},
        }
