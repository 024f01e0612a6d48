"""HTTP routes of /api/{user_id}/tasks: list, create, get, replace, update, complete, delete."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response, jsonify, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.tokens import token_session_id
from app.common.docs import errors
from app.common.ownership import owner_only
from app.tasks import service
from app.tasks.schemas import (
    TaskCompletionSchema,
    TaskCreateSchema,
    TaskEnvelope,
    TaskListEnvelope,
    TaskPatchSchema,
    TaskQueryArgsSchema,
)
from app.tasks.serialize import task_json

blp = Blueprint("tasks", __name__, url_prefix="/api", description="A user's tasks.")

ETAG_HEADER = {"ETag": {"description": "The task's current version.", "schema": {"type": "string"}}}
LOCATION_HEADER = {
    "Location": {"description": "URL of the new task.", "schema": {"type": "string"}}
}
LINK_HEADER = {
    "Link": {"description": 'The next page, as `<url>; rel="next"`.', "schema": {"type": "string"}}
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "Apply only if the task still has this ETag (else 412).",
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "Answer 304 if the task still has this ETag.",
}


# OpenAPI links from a created task to what can be done with it next: they document the
# workflow, and let schemathesis' stateful phase chain real ids through the operations.
CREATED_TASK_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {"user_id": "$request.path.user_id", "task_id": "$response.body#/data/id"},
        "description": description,
    }
    for name, operation, description in [
        ("GetTask", "getTask", "The created task."),
        ("ReplaceTask", "replaceTask", "Replace the created task."),
        ("UpdateTask", "updateTask", "Update the created task."),
        ("CompleteTask", "completeTask", "Complete or reopen the created task."),
        ("DeleteTask", "deleteTask", "Delete the created task."),
    ]
}


def _if_match() -> Any:
    """The request's If-Match, or None when absent (then the last write wins)."""
    return request.if_match if "If-Match" in request.headers else None


def _with_etag(task: Any, status: int = 200) -> tuple[Response, int, dict[str, str]]:
    """The task as `{"data": task}` with its ETag. Written by task_json, not by the schema in
    @blp.response (which documents it): smorest passes a ready Response through."""
    return jsonify({"data": task_json(task)}), status, {"ETag": service.etag_of(task)}


def _next_link(next_cursor: str) -> str:
    """The same list (same filters and sort) from the next cursor on."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["cursor"] = [next_cursor]
    url = url_for(request.endpoint or "", **(request.view_args or {}), **args, _external=True)
    return f'<{url}>; rel="next"'


@blp.route("/<uuid:user_id>/tasks")
class Tasks(MethodView):
    decorators = [owner_only]

    @blp.arguments(TaskQueryArgsSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, TaskListEnvelope, headers=LINK_HEADER)
    @errors(blp, 403, 400, 422, auth=True)
    @blp.doc(operationId="listTasks")
    def get(self, args: dict, user_id: uuid.UUID) -> Any:
        """List the user's tasks: filters, full-text search, sort and keyset pages.

        Filters combine: `priority` matches any value given, `tag` needs every tag named,
        `due_before` and `due_after` are strict and never match a task without `due_at`, `q` is
        PostgreSQL full-text search over title and description. `meta.count` counts every
        matching task; pass `meta.next_cursor` as `cursor` for the next page (the `Link` header
        holds the same URL). Unknown parameters are 422.
        """
        filters = service.TaskFilters(
            status=args["status"],
            priorities=tuple(args.get("priority", ())),
            tags=tuple(args.get("tag", ())),
            due_before=args.get("due_before"),
            due_after=args.get("due_after"),
            q=args.get("q") or None,
        )
        page = service.list_tasks(
            user_id=user_id,
            filters=filters,
            sort=args["sort"],
            limit=args["limit"],
            cursor=args.get("cursor"),
            session_id=token_session_id(),
        )
        body = {
            "data": [task_json(task) for task in page.tasks],
            "meta": {"count": page.count, "limit": page.limit, "next_cursor": page.next_cursor},
        }
        headers = {"Link": _next_link(page.next_cursor)} if page.next_cursor else {}
        return jsonify(body), headers

    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskEnvelope, headers={**LOCATION_HEADER, **ETAG_HEADER})
    @errors(blp, 403, auth=True, body=True)
    @blp.doc(operationId="createTask", responses={201: {"links": CREATED_TASK_LINKS}})
    def post(self, data: dict, user_id: uuid.UUID) -> Any:
        """Create a task.

        Omitted optional fields take their defaults; tag names the user does not have yet
        create the tag. Answers 201 with the task's `Location` and `ETag`.
        """
        task = service.create_task(user_id=user_id, data=data)
        response, status, headers = _with_etag(task, status=201)
        headers["Location"] = url_for("tasks.TaskById", user_id=user_id, task_id=task.id)
        return response, status, headers


@blp.route("/<uuid:user_id>/tasks/<uuid:task_id>")
class TaskById(MethodView):
    decorators = [owner_only]

    @blp.response(200, TaskEnvelope, headers=ETAG_HEADER)
    @blp.alt_response(304, description="Not Modified: the task still has the If-None-Match ETag.")
    @blp.doc(parameters=[IF_NONE_MATCH])
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="getTask")
    def get(self, user_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        """Get one task, with its ETag.

        With `If-None-Match` holding the current ETag, 304 and no body. Another user's task, a
        deleted one and a malformed id are all 404.
        """
        task = service.get_user_task(
            user_id=user_id, task_id=task_id, session_id=token_session_id()
        )
        etag = service.etag_of(task)
        if request.if_none_match.contains_weak(etag.strip('"')):
            return Response(status=304, headers={"ETag": etag})
        return _with_etag(task)

    @blp.arguments(TaskCreateSchema)
    @blp.response(200, TaskEnvelope, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True, body=True)
    @blp.doc(operationId="replaceTask")
    def put(self, data: dict, user_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        """Replace the task's writable fields (omitted optional fields return to defaults).

        With `If-Match`, 412 when the task changed since that ETag; without it the last write
        wins.
        """
        task = service.update_task(
            user_id=user_id, task_id=task_id, changes=data, if_match=_if_match()
        )
        return _with_etag(task)

    @blp.arguments(TaskPatchSchema)
    @blp.response(200, TaskEnvelope, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True, body=True)
    @blp.doc(operationId="updateTask")
    def patch(self, data: dict, user_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        """Update the writable fields given; the others keep their values.

        `null` clears `description` and `due_at`; `{}` changes nothing. With `If-Match`, 412
        when the task changed since that ETag; without it the last write wins.
        """
        task = service.update_task(
            user_id=user_id, task_id=task_id, changes=data, if_match=_if_match()
        )
        return _with_etag(task)

    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True)
    @blp.doc(operationId="deleteTask")
    def delete(self, user_id: uuid.UUID, task_id: uuid.UUID) -> None:
        """Delete the task.

        With `If-Match`, 412 when the task changed since that ETag; without it the last write
        wins.
        """
        service.delete_task(user_id=user_id, task_id=task_id, if_match=_if_match())


@blp.route("/<uuid:user_id>/tasks/<uuid:task_id>/complete")
class TaskCompletion(MethodView):
    decorators = [owner_only]

    # Documents what the contract says: no body at all toggles, as `{}` does.
    @blp.arguments(TaskCompletionSchema, required=False)
    @blp.response(200, TaskEnvelope, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True, body=True)
    @blp.doc(operationId="completeTask")
    def patch(self, data: dict, user_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        """Mark the task completed or pending (`is_completed`), or toggle it (empty body).

        The server sets `completed_at` when the task becomes completed and clears it when it
        becomes pending; setting the value the task already has changes nothing. With
        `If-Match`, 412 when the task changed since that ETag.
        """
        task = service.complete_task(
            user_id=user_id,
            task_id=task_id,
            is_completed=data.get("is_completed"),
            if_match=_if_match(),
        )
        return _with_etag(task)
