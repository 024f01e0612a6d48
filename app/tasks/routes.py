"""HTTP routes of /api/{user_id}/tasks: list, create, get, replace, update, complete, delete."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import request, url_for
from flask.views import MethodView

from app.common.blueprints import UserBlueprint
from app.common.docs import errors, links_from_created, location_header
from app.common.etags import ETAG_HEADER, IF_MATCH, IF_NONE_MATCH, if_match, not_modified
from app.core.database import read_only
from app.core.views import costs
from app.tasks import batch, service
from app.tasks.schemas import (
    MAX_BATCH,
    BatchResultEnvelope,
    BatchSchema,
    TaskCompletionSchema,
    TaskCreateSchema,
    TaskEnvelope,
    TaskListEnvelope,
    TaskMoveSchema,
    TaskPatchSchema,
    TaskQueryArgsSchema,
)

blp = UserBlueprint("tasks", __name__, description="A user's tasks.")

LOCATION_HEADER = location_header("task")
LINK_HEADER = {
    "Link": {"description": 'The next page, as `<url>; rel="next"`.', "schema": {"type": "string"}}
}


# What a client can do next with a task it created.
CREATED_TASK_LINKS = links_from_created(
    "task_id",
    [
        ("GetTask", "getTask", "The created task."),
        ("ReplaceTask", "replaceTask", "Replace the created task."),
        ("UpdateTask", "updateTask", "Update the created task."),
        ("CompleteTask", "completeTask", "Complete or reopen the created task."),
        ("DeleteTask", "deleteTask", "Delete the created task."),
        ("MoveTask", "moveTask", "Place the created task among its siblings, or elsewhere."),
    ],
)


def _with_etag(task: Any, status: int = 200) -> tuple[dict, int, dict[str, str]]:
    """The view's answer for one task: `{"data": task}` (written by @blp.response's schema),
    with its ETag."""
    return {"data": task}, status, {"ETag": service.etag_of(task)}


def _next_link(next_cursor: str) -> str:
    """The same list (same filters and sort) from the next cursor on."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["cursor"] = [next_cursor]
    url = url_for(request.endpoint or "", **(request.view_args or {}), **args, _external=True)
    return f'<{url}>; rel="next"'


@blp.route("/tasks")
class Tasks(MethodView):
    @read_only
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
        page = service.list_tasks(
            user_id=user_id,
            filters=args,
            sort=args["sort"],
            limit=args["limit"],
            cursor=args.get("cursor"),
        )
        body = {
            "data": page.tasks,
            "meta": {"count": page.count, "limit": page.limit, "next_cursor": page.next_cursor},
        }
        headers = {"Link": _next_link(page.next_cursor)} if page.next_cursor else {}
        return body, headers

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


@blp.route("/tasks/<uuid:task_id>")
class TaskById(MethodView):
    @read_only
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
        task = service.get_user_task(user_id=user_id, task_id=task_id)
        return not_modified(service.etag_of(task)) or _with_etag(task)

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
            user_id=user_id, task_id=task_id, changes=data, if_match=if_match()
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
            user_id=user_id, task_id=task_id, changes=data, if_match=if_match()
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
        service.delete_task(user_id=user_id, task_id=task_id, if_match=if_match())


@blp.route("/tasks/<uuid:task_id>/complete")
class TaskCompletion(MethodView):
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
            if_match=if_match(),
        )
        return _with_etag(task)


@blp.route("/tasks/<uuid:task_id>/move")
class TaskMove(MethodView):
    @blp.arguments(TaskMoveSchema)
    @blp.response(200, TaskEnvelope, headers=ETAG_HEADER)
    @blp.doc(parameters=[IF_MATCH])
    @errors(blp, 403, 404, 412, auth=True, body=True)
    @blp.doc(operationId="moveTask")
    def post(self, data: dict, user_id: uuid.UUID, task_id: uuid.UUID) -> Any:
        """Place the task among its siblings, or elsewhere with its subtasks.

        After a sibling (`after`; null: first), before one (`before`), or last (neither).
        `list_id` and `parent_id` move it elsewhere in the same call (with its subtasks); the
        sibling named must then be there. Only the task's own `position` changes. With
        `If-Match`, 412 when the task changed since that ETag.
        """
        task = service.move_task(user_id=user_id, task_id=task_id, spec=data, if_match=if_match())
        return _with_etag(task)


def _operations_sent() -> int:
    """How many operations a batch request carries (for the rate limit, before it is read)."""
    body = request.get_json(silent=True)
    operations = body.get("operations") if isinstance(body, dict) else None
    return min(len(operations), MAX_BATCH) if isinstance(operations, list) else 1


@blp.route("/tasks/batch")
class TaskBatch(MethodView):
    @costs(_operations_sent)
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchResultEnvelope)
    @errors(blp, 403, 404, 409, 412, auth=True, body=True)
    @blp.doc(operationId="batchTasks")
    def post(self, data: dict, user_id: uuid.UUID) -> dict:
        """Apply up to 100 task operations in order, all or nothing.

        `op` is create, update (PATCH), replace (PUT), complete, move or delete; `data` is the
        body that route takes and `if_match` its If-Match; `"$ref"` in id, parent_id, after or
        before is the id of the task an earlier create named `ref`. Answers the task after each
        operation (null for a delete) and the refs. The first failing operation's problem is the
        answer, with its index in `operation`, and nothing is applied. Counts one request per
        operation against the rate limit.
        """
        result = batch.run_batch(user_id=user_id, operations=data["operations"])
        return {"data": result.results, "meta": {"refs": result.refs}}
