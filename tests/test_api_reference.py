"""docs/api.md, the project's API reference, documents exactly the operations of the generated
OpenAPI document: a route added to the service without its row there (or the reverse) fails.

An operation is documented by a table row whose first cell is `METHOD /path`, with the path's
parameters named as in the document (`/api/{user_id}/tasks/{task_id}`).
"""

from __future__ import annotations

import re

from tests.support.servers import PROJECT_ROOT

API_REFERENCE = PROJECT_ROOT / "docs" / "api.md"
OPERATION_ROW = re.compile(r"^\| `(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/\S*)` \|", re.M)
HTTP_METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}


def documented_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation row of docs/api.md, in order."""
    return OPERATION_ROW.findall(API_REFERENCE.read_text())


def generated_operations(client) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document the service serves."""
    document = client.get("/api/openapi.json").get_json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_documented_operation_is_in_the_openapi_document(client):
    assert set(documented_operations()) - generated_operations(client) == set()


def test_every_operation_of_the_openapi_document_is_documented(client):
    assert generated_operations(client) - set(documented_operations()) == set()


def test_each_operation_is_documented_once():
    operations = documented_operations()
    assert sorted(operations) == sorted(set(operations))
