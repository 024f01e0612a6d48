"""The generated OpenAPI document and the docs page, checked over every documented operation."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.support.problems import assert_problem

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
BEARER = [{"bearerAuth": []}]
# The only operations a client may call without a token (everything else is per user).
PUBLIC = {
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
}
# Probes are exempt from rate limits (orchestrators poll them), so they cannot answer 429.
NOT_RATE_LIMITED = {("get", "/health/live"), ("get", "/health/ready")}
# Liveness does no I/O at all, so it cannot find the database unreachable.
NO_DATABASE = {("get", "/health/live")}
# Routes that serve the documentation itself rather than the API.
UNDOCUMENTED_ENDPOINTS = {
    "static",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "docs_assets.asset",
    # For the operator's scraper, not clients: kept out of the contract (app/core/metrics.py).
    "metrics",
}


@pytest.fixture
def document(client) -> dict:
    """The OpenAPI document as the app serves it."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict) -> list[tuple[str, str, dict]]:
    """(method, path, operation) for every operation in the document."""
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def concrete(path: str) -> str:
    """The path with a fresh UUID for every parameter (all ids are UUIDs)."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def openapi_path(rule: str) -> str:
    """A Flask rule (`/a/<uuid:id>`) as the document writes it (`/a/{id}`)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def resolve(document: dict, response: dict) -> dict:
    """A response object, following its $ref into components."""
    if "$ref" in response:
        return document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def assert_fits_schema(body: dict, schema: dict) -> None:
    """The body satisfies the document's (flat, OpenAPI 3.0) object schema."""
    types = {"string": str, "integer": int, "object": dict}
    assert set(schema["required"]) <= set(body)
    if schema.get("additionalProperties") is False:
        assert set(body) <= set(schema["properties"])
    for name, value in body.items():
        field = schema["properties"][name]
        if value is None:
            assert field.get("nullable") is True, name
        else:
            assert isinstance(value, types[field["type"]]), name


class TestDocument:
    def test_is_openapi_3(self, document):
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"] == "Task API"

    def test_declares_the_bearer_scheme(self, document):
        assert document["components"]["securitySchemes"]["bearerAuth"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }

    def test_every_api_route_is_documented(self, app, document):
        routes = {
            (method.lower(), openapi_path(rule.rule))
            for rule in app.url_map.iter_rules()
            if rule.endpoint not in UNDOCUMENTED_ENDPOINTS
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }
        documented = {(method, path) for method, path, _ in operations(document)}
        assert routes == documented

    def test_every_summary_is_the_method_docstring(self, app, document):
        docstrings = {}
        for rule in app.url_map.iter_rules():
            view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                function = getattr(view_class, method.lower(), None)
                if function is not None and function.__doc__:
                    first_line = function.__doc__.strip().splitlines()[0].strip()
                    docstrings[(method.lower(), openapi_path(rule.rule))] = first_line
        for method, path, operation in operations(document):
            assert operation.get("summary"), (method, path)
            assert operation["summary"] == docstrings[(method, path)], (method, path)

    def test_every_operation_documents_the_errors_any_request_can_meet(self, document):
        for method, path, operation in operations(document):
            expected = {"500"}
            if (method, path) not in NOT_RATE_LIMITED:
                expected.add("429")
            if (method, path) not in NO_DATABASE:
                expected.add("503")
            assert expected <= set(operation["responses"]), (method, path)

    def test_exactly_the_probes_are_not_rate_limited(self, client, document):
        # Keeps NOT_RATE_LIMITED, and so the 429 expectation above, true to the app.
        unlimited = {
            (method, path)
            for method, path, _ in operations(document)
            if "X-RateLimit-Limit" not in client.open(concrete(path), method=method.upper()).headers
        }
        assert unlimited == NOT_RATE_LIMITED

    def test_every_error_response_is_a_problem(self, document):
        for method, path, operation in operations(document):
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    content = resolve(document, response).get("content")
                    assert content == PROBLEM_CONTENT, (method, path, status)


class TestSecurity:
    def test_exactly_the_public_operations_answer_without_a_token(self, client, document):
        public = set()
        for method, path, _ in operations(document):
            response = client.open(concrete(path), method=method.upper())
            if response.status_code == 401:
                assert_problem(response, 401, "unauthorized")
            else:
                public.add((method, path))
        assert public == PUBLIC

    def test_operations_that_need_a_token_say_so(self, document):
        for method, path, operation in operations(document):
            if (method, path) in PUBLIC:
                continue
            assert operation.get("security") == BEARER, (method, path)
            assert "401" in operation["responses"], (method, path)

    def test_public_operations_need_no_token(self, document):
        for method, path, operation in operations(document):
            if (method, path) in PUBLIC:
                assert "security" not in operation, (method, path)


class TestErrorAnswers:
    def test_an_unknown_route_is_a_documented_problem(self, client, document):
        response = client.get("/api/no-such-route")
        body = assert_problem(response, 404, "not_found")
        assert_fits_schema(body, document["components"]["schemas"]["Problem"])

    def test_a_wrong_method_is_a_documented_problem_with_allow(self, client, document):
        checked = 0
        for path, item in document["paths"].items():
            documented = {method for method in item if method in HTTP_METHODS}
            unused = [method for method in HTTP_METHODS if method not in documented]
            if not unused:
                continue
            response = client.open(concrete(path), method=unused[0].upper())
            body = assert_problem(response, 405, "method_not_allowed")
            assert_fits_schema(body, document["components"]["schemas"]["Problem"])
            allowed = {method.upper() for method in documented} | {"OPTIONS"}
            if "get" in documented:
                allowed.add("HEAD")
            assert set(response.headers["Allow"].split(", ")) == allowed, path
            checked += 1
        assert checked == len(document["paths"])


class DocsPage(HTMLParser):
    """What the docs page loads: script and stylesheet URLs, inline code of any kind."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.event_handlers: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            if attributes.get("src"):
                self.urls.append(str(attributes["src"]))
            else:
                self._in_inline_script = True
                self.inline_scripts.append("")
        if tag == "link" and attributes.get("href"):
            self.urls.append(str(attributes["href"]))
        self.event_handlers += [name for name in attributes if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


@pytest.fixture
def docs_page(client):
    """The docs page's response and what its HTML loads."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = DocsPage()
    page.feed(response.get_data(as_text=True))
    return response, page


class TestDocsPage:
    def test_every_asset_is_served_by_the_app(self, client, docs_page):
        _, page = docs_page
        assert len(page.urls) >= 3  # stylesheet, Swagger UI, the start-up script
        for url in page.urls:
            parts = urlsplit(url)
            assert (parts.scheme, parts.netloc) == ("", ""), url
            with client.get(url) as asset:
                assert asset.status_code == 200, url

    def test_its_policy_forbids_inline_scripts(self, docs_page):
        response, _ = docs_page
        directives = {
            name: sources
            for name, *sources in (
                part.split()
                for part in response.headers["Content-Security-Policy"].split(";")
                if part.strip()
            )
        }
        assert directives["script-src"] == ["'self'"]

    def test_it_has_no_inline_code(self, docs_page):
        _, page = docs_page
        assert [script for script in page.inline_scripts if script.strip()] == []
        assert page.event_handlers == []
