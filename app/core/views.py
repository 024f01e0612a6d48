"""What the view a request was routed to declares about itself (@read_only, @costs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

View = TypeVar("View", bound=Callable[..., Any])


def declared(name: str, default: Any = None) -> Any:
    """The attribute `name` of the view this request was routed to: a MethodView's method (a
    HEAD runs its `get`), or a view function; `default` when it has none or nothing matched.

    Two lookups in dictionaries, asked whenever needed: cheaper than caching it anywhere
    (`g` outlives a request when tests push the app context themselves)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        if method == "head" and not hasattr(view_class, "head"):
            method = "get"
        view = getattr(view_class, method, None)
    return getattr(view, name, default)


def costs(cost: Callable[[], int]) -> Callable[[View], View]:
    """Declare what one request of this view counts against the rate limits (a batch: one per
    operation); flask-limiter asks `cost()` before the view runs (app/auth/ratelimit.py)."""

    def mark(view: View) -> View:
        view.rate_limit_cost = cost  # type: ignore[attr-defined]
        return view

    return mark
