"""A batch of task operations: each one exactly what its single route does, all in one
transaction (the request's: app/core/transactions.py), in order.

Each operation's `data` is loaded with its route's own schema and handed to the same service
function the route calls; a failure is that route's problem, with the operation's index in
`operation` (and, for a 422, its errors under errors.json.operations.<index>), and nothing of
the batch is committed. `"$ref"` in `id`, `parent_id`, `after` or `before` stands for the id of
the task an earlier create named `ref`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.http import parse_etags

from app.common.locks import lock_user
from app.errors import CONSTRAINT_ERRORS, ApiError, constraint_error
from app.extensions import db
from app.models import LIMITS, UserCounters
from app.tasks import service
from app.tasks.schemas import (
    BatchOperationSchema,
    TaskCompletionSchema,
    TaskCreateSchema,
    TaskMoveSchema,
    TaskPatchSchema,
    TaskSchema,
)

REF_FIELDS = ("parent_id", "after", "before")
BODIES: dict[str, type[ma.Schema]] = {
    "create": TaskCreateSchema,
    "replace": TaskCreateSchema,
    "update": TaskPatchSchema,
    "complete": TaskCompletionSchema,
    "move": TaskMoveSchema,
}
# What the schema writes of a task, read at the moment an operation ends (a later operation of
# the same batch may change the same task).
SNAPSHOT_FIELDS = [name for name in TaskSchema().dump_fields if name != "tags"]


@dataclass(frozen=True)
class BatchResult:
    results: list[Any]  # a snapshot of the task after each operation, None after a delete
    refs: dict[str, uuid.UUID]


def _snapshot(task: Any) -> SimpleNamespace:
    return SimpleNamespace(
        **{name: getattr(task, name) for name in SNAPSHOT_FIELDS}, tag_names=list(task.tag_names)
    )


def _in_operation(error: ApiError, index: int) -> ApiError:
    """The operation's own problem, told which operation it was; a 422's errors go under
    errors.json.operations.<index> (the body's errors under its `data`)."""
    errors = error.errors
    if error.status == 422 and errors is not None:
        errors = {"json": {"operations": {index: errors.get("json", errors)}}}
    return ApiError(
        error.status,
        error.code,
        error.detail,
        errors=errors,
        headers=error.headers,
        operation=index,
    )


def _invalid(field: str, messages: Any) -> ApiError:
    return ApiError(422, errors={"json": {field: messages}})


def _resolve(value: Any, refs: dict[str, uuid.UUID], field: str) -> Any:
    """`"$name"`: the id of the task named `name` by an earlier create; anything else as is."""
    if isinstance(value, str) and value.startswith("$"):
        if value[1:] not in refs:
            raise _invalid(field, [f"No earlier create in this batch is named {value[1:]!r}."])
        return str(refs[value[1:]])
    return value


def _task_id(operation: dict[str, Any], refs: dict[str, uuid.UUID]) -> uuid.UUID:
    value = _resolve(operation["id"], refs, "id")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _invalid("id", ["Not a task id or a $ref."]) from None


def _body(operation: dict[str, Any], refs: dict[str, uuid.UUID]) -> dict[str, Any]:
    """The operation's data, refs resolved, loaded by its single route's schema."""
    data = dict(operation.get("data") or {})
    for field in REF_FIELDS:
        if field in data:
            try:
                data[field] = _resolve(data[field], refs, field)
            except ApiError as error:
                raise _invalid("data", error.errors["json"]) from None  # type: ignore[index]
    try:
        return BODIES[operation["op"]]().load(data)
    except ma.ValidationError as error:
        raise _invalid("data", error.normalized_messages()) from None


def _nest_body_errors(error: ApiError) -> ApiError:
    """A service's 422 names fields of the body: in a batch they are under `data`."""
    if error.status == 422 and error.errors and "json" in error.errors:
        return ApiError(
            422, error.code, error.detail, errors={"json": {"data": error.errors["json"]}}
        )
    return error


def _operation(raw: Any, refs: dict[str, uuid.UUID]) -> dict[str, Any]:
    """The operation as BatchOperationSchema loads it; a ref must not name an earlier one."""
    try:
        operation: dict[str, Any] = BatchOperationSchema().load(raw if raw is not None else {})
    except ma.ValidationError as error:
        messages = error.normalized_messages()
        raise ApiError(
            422, errors={"json": messages if isinstance(messages, dict) else {}}
        ) from None
    if operation.get("ref") in refs:
        raise _invalid("ref", ["Already names an earlier operation's task."])
    return operation


def _run(user_id: uuid.UUID, operation: dict[str, Any], refs: dict[str, uuid.UUID]) -> Any:
    """One operation, through the service function its single route calls."""
    op = operation["op"]
    if_match = parse_etags(operation["if_match"]) if "if_match" in operation else None
    body = _body(operation, refs) if op != "delete" else {}
    task_id = _task_id(operation, refs) if op != "create" else uuid.UUID(int=0)
    task: Any
    try:
        if op == "create":
            task = service.create_task(user_id=user_id, data=body, flush=False)
            if "ref" in operation:
                refs[operation["ref"]] = task.id
        elif op in ("update", "replace"):
            task = service.update_task(
                user_id=user_id, task_id=task_id, changes=body, if_match=if_match
            )
        elif op == "complete":
            task = service.complete_task(
                user_id=user_id,
                task_id=task_id,
                is_completed=body.get("is_completed"),
                if_match=if_match,
            )
        elif op == "move":
            task = service.move_task(user_id=user_id, task_id=task_id, spec=body, if_match=if_match)
        else:
            service.delete_task(user_id=user_id, task_id=task_id, if_match=if_match)
            task = None
    except ApiError as error:
        raise _nest_body_errors(error) from None
    return None if task is None else _snapshot(task)


class Budget:
    """How many more tasks the user may have, for creates whose INSERTs wait: read once (under
    the user's lock, so exact) and counted down; any other operation may add or remove tasks
    (a next occurrence, a deleted subtree) and flushes, so the count is read again after it."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        self.left: int | None = None

    def take(self) -> None:
        """One task more, or 409 limit_reached, as the database would answer a single create."""
        if self.left is None:
            lock_user(self.user_id)
            held = db.session.scalar(
                select(UserCounters.tasks).where(UserCounters.user_id == self.user_id)
            )
            self.left = LIMITS["tasks"] - (held or 0)
        if self.left <= 0:
            raise CONSTRAINT_ERRORS["ck_user_counters_tasks_limit"]()
        self.left -= 1

    def recount(self) -> None:
        self.left = None


def run_batch(*, user_id: uuid.UUID, operations: list[dict[str, Any]]) -> BatchResult:
    """Apply the operations in order; the first failure stops the batch, as its problem with
    `operation` set, and the request rolls everything back.

    Creates leave their INSERTs pending (one statement for all of them, at the next query or
    at the end), counted against the limit by Budget: a batch of 100 creates is a handful of
    statements, not 100 round trips."""
    refs: dict[str, uuid.UUID] = {}
    results = []
    budget = Budget(user_id)
    for index, raw in enumerate(operations):
        try:
            operation = _operation(raw, refs)
            if operation["op"] == "create":
                budget.take()
            else:
                budget.recount()
            results.append(_run(user_id, operation, refs))
            if index == len(operations) - 1:
                db.session.flush()  # the pending creates, so a failure names this operation
        except ApiError as error:
            raise _in_operation(error, index) from None
        except IntegrityError as error:
            db.session.rollback()
            known = constraint_error(error)
            if known is None:
                raise
            raise _in_operation(_nest_body_errors(known), index) from None
    return BatchResult(results=results, refs=refs)
