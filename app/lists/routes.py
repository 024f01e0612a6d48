"""HTTP routes of /api/{user_id}/lists: list, create, get, rename, delete."""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from app.common.blueprints import UserBlueprint
from app.common.docs import errors, links_from_created, location_header
from app.common.etags import ETAG_HEADER, IF_MATCH, IF_NONE_MATCH, if_match, not_modified
from app.core.database import read_only
from app.lists import service
from app.lists.schemas import ListEnvelope, ListListEnvelope, ListWriteSchema

blp = UserBlueprint("lists", __name__, description="A user's lists of tasks.")

LOCATION_HEADER = location_header("list")
CREATED_LIST_LINKS = links_from_created(
    "list_id",
    [
        ("GetList", "getList", "The created list."),
        ("RenameList", "renameList", "Rename the created list."),
        ("DeleteList", "deleteList", "Delete the created list and its tasks."),
    ],
)


def _with_etag(view: service.ListView, status: int = 200) -> tuple[dict, int, dict[str, str]]:
    return {"data": view}, status, {"ETag": view.etag}


@blp.route("/lists")
class Lists(MethodView):
    @read_only
    @blp.response(200, ListListEnvelope)
    @errors(blp, 403, auth=True)
    @blp.doc(operationId="listLists")
    def get(self, user_id: uuid.UUID) -> dict:
        """List the user's lists, sorted by name case-insensitively, with their task counts.

        `task_count` counts each list's tasks at every level, `open_count` those not completed.
        """
        lists = service.list_lists(user_id=user_id)
        return {"data": lists, "meta": {"count": len(lists)}}

    @blp.arguments(ListWriteSchema)
    @blp.response(201, ListEnvelope, headers={**LOCATION_HEADER, **ETAG_HEADER})
    @errors(blp, 403, 409, auth=True, body=True)
    @blp.doc(operationId="createList", responses={201: {"links": CREATED_LIST_LINKS}})
    def post(self, data: dict, user_id: uuid.UUID) -> Any:
        """Create a list.

        409 `list_exists` when the user has a list of that name in any case; 409
        `limit_reached` past 1,000 lists. Tasks join it through their `list_id`.
        """
        view = service.create_list(user_id=user_id, name=data["name"])
        body, status, headers = _with_etag(view, status=201)
        headers["Location"] = url_for("lists.ListById", user_id=user_id, list_id=view.id)
        return body, status, headers


@blp.route("/lists/<uuid:list_id>")
class ListById(MethodView):
    @read_only
    @blp.response(200, ListEnvelope, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not Modified: the list still has the If-None-Match ETag.")
    @blp.doc(parameters=[IF_NONE_MATCH])
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="getList")
    def get(self, user_id: uuid.UUID, list_id: uuid.UUID) -> Any:
        """Get one list with its counts and ETag (which changes with the counts too).

        With `If-None-Match` holding the current ETag, 304 and no body.
        """
        view = service.get_user_list(user_id=user_id, list_id=list_id)
        return not_modified(view.etag) or _with_etag(view)

    @blp.arguments(ListWriteSchema)
    @blp.response(200, ListEnvelope, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 409, 412, auth=True, body=True)
    @blp.doc(operationId="renameList")
    def patch(self, data: dict, user_id: uuid.UUID, list_id: uuid.UUID) -> Any:
        """Rename the list (409 `list_exists` on a clash with another of the user's lists).

        With `If-Match`, 412 when the list changed since that ETag.
        """
        view = service.rename_list(
            user_id=user_id, list_id=list_id, name=data["name"], if_match=if_match()
        )
        return _with_etag(view)

    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True)
    @blp.doc(operationId="deleteList")
    def delete(self, user_id: uuid.UUID, list_id: uuid.UUID) -> None:
        """Delete the list and every task in it, subtasks included, in one transaction.

        With `If-Match`, 412 when the list changed since that ETag.
        """
        service.delete_list(user_id=user_id, list_id=list_id, if_match=if_match())
