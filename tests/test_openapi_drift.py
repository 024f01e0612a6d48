"""The committed openapi.json (what clients are generated from) is what the code generates."""

from __future__ import annotations

import json

from tests.support.servers import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "openapi.json"


def as_make_openapi_writes(document: dict) -> str:
    """The document as `make openapi` formats it (json.tool: two-space indent, UTF-8)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_committed_document_is_what_the_code_generates(client):
    assert COMMITTED.is_file(), "openapi.json is missing: run `make openapi` and commit it"
    generated = client.get("/api/openapi.json").get_json()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    # Compared as data first, so that a failure names the difference rather than a line.
    assert committed == generated, "openapi.json is stale: run `make openapi` and commit it"
    assert COMMITTED.read_text(encoding="utf-8") == as_make_openapi_writes(generated), (
        "openapi.json is not formatted as `make openapi` writes it: run `make openapi`"
    )
