"""HTTP routes of /api/{user_id}/tags: list with counts, create, rename, delete."""

from __future__ import annotations

import uuid

from flask.views import MethodView

from app.common.blueprints import UserBlueprint
from app.common.docs import errors
from app.core.database import read_only
from app.tags import service
from app.tags.schemas import TagEnvelope, TagListEnvelope, TagWriteSchema

blp = UserBlueprint("tags", __name__, description="A user's tags.")


@blp.route("/tags")
class Tags(MethodView):
    @read_only
    @blp.response(200, TagListEnvelope)
    @errors(blp, 403, auth=True)
    @blp.doc(operationId="listTags")
    def get(self, user_id: uuid.UUID) -> dict:
        """List the user's tags, sorted by name, with how many tasks carry each.

        A tag exists once it was created here or named in a task's `tags`.
        """
        tags = service.list_tags(user_id=user_id)
        return {"data": tags, "meta": {"count": len(tags)}}

    @blp.arguments(TagWriteSchema)
    @blp.response(201, TagEnvelope)
    @errors(blp, 403, 409, auth=True, body=True)
    @blp.doc(operationId="createTag")
    def post(self, data: dict, user_id: uuid.UUID) -> dict:
        """Create a tag (409 when the user has one of that name, in any case).

        The name is trimmed and keeps the spelling given. Answers no `Location`: there is no
        route to get one tag.
        """
        return {"data": service.create_tag(user_id=user_id, name=data["name"])}


@blp.route("/tags/<uuid:tag_id>")
class TagById(MethodView):
    @blp.arguments(TagWriteSchema)
    @blp.response(200, TagEnvelope)
    @errors(blp, 403, 404, 409, auth=True, body=True)
    @blp.doc(operationId="renameTag")
    def patch(self, data: dict, user_id: uuid.UUID, tag_id: uuid.UUID) -> dict:
        """Rename a tag (409 on a clash with another of the user's tags).

        The tasks carrying it show the new name, so their `updated_at` and ETag move.
        """
        return {"data": service.rename_tag(user_id=user_id, tag_id=tag_id, name=data["name"])}

    @blp.response(204)
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="deleteTag")
    def delete(self, user_id: uuid.UUID, tag_id: uuid.UUID) -> None:
        """Delete a tag; it leaves every task that carried it.

        Those tasks stay, without the tag; their `updated_at` and ETag move.
        """
        service.delete_tag(user_id=user_id, tag_id=tag_id)
