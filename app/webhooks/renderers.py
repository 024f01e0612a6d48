"""Objects rendered for events exactly as their GETs answer them (each resource's own schema)."""

from __future__ import annotations

import uuid
from typing import Any

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


def render(kind: str, user_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The user's objects of that kind among `ids`, by id, as their GETs answer them."""
    return RENDERERS[kind](user_id, ids)
