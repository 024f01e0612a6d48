"""Objects rendered for events exactly as their GETs answer them (each resource's own schema)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request

from app.lists.schemas import ListSchema
from app.lists.service import get_user_lists
from app.tasks.schemas import TaskSchema
from app.tasks.service import get_user_tasks

_TASK = TaskSchema()
_LIST = ListSchema()


def _tasks(user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {row.id: _TASK.dump(row) for row in get_user_tasks(user_id=user_id, task_ids=ids)}


def _lists(user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {view.id: _LIST.dump(view) for view in get_user_lists(user_id=user_id, list_ids=ids)}


# An object's kind (as the triggers stage it) -> how its objects are rendered.
RENDERERS = {"task": _tasks, "list": _lists}


# A blueprint whose write answers are objects of a kind as their GETs answer them: the tasks'
# routes answer tasks (one, or a batch's list of them), the lists' routes lists.
ANSWERS_OF = {"tasks": "task", "lists": "list"}


def answered(response: Response) -> dict[tuple[str, uuid.UUID], Any]:
    """The objects a write's answer holds, by (kind, id): an event need not read and render
    them again (a third of what an event cost a create: bench/README.md)."""
    kind = ANSWERS_OF.get(request.blueprint or "")
    if kind is None or response.status_code not in (200, 201) or not response.is_json:
        return {}
    data = (response.get_json(silent=True) or {}).get("data")
    items = data if isinstance(data, list) else [data]
    return {
        (kind, uuid.UUID(item["id"])): item
        for item in items
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


def render(kind: str, user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The user's objects of that kind among `ids`, by id, as their GETs answer them."""
    return RENDERERS[kind](user_id, ids)
