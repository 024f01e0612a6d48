"""schemathesis over the whole OpenAPI document: generated requests, authenticated as a real
user whose id fills every `{user_id}`, must get answers the document describes, never a 500."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import Flaky
from schemathesis.config import SchemathesisConfig

from app.extensions import limiter
from tests.support.accounts import PASSWORD, Account

schema = schemathesis.pytest.from_fixture("api_schema")
STATEFUL_SUITES = 5

# A schema-valid request may still meet the contract's other outcomes: a random If-Match is a
# 412, a taken tag name a 409. They are answers, not rejections of valid data.
ANSWERS = ["2xx", "3xx", 401, 403, 404, 409, 412, 429]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": ANSWERS}},
        # A batch's operations name tasks and earlier creates, and carry the bodies of other
        # routes: a schema-valid batch is mostly one whose operation would be a 422 alone (an
        # id that needs a `$ref` it does not have, a parent that does not exist), which no
        # schema can rule out. tests/test_batch.py proves its rules; here it must still answer
        # what the document says, never a 500.
        "operations": [
            {
                "include-operation-id": "batchTasks",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ANSWERS, 422]}},
            }
        ],
    }
)


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)


@pytest.fixture(autouse=True)
def _webhooks_may_call_the_test_host(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])


# Body fields whose valid values no schema can list: they name the user's own objects (a list,
# a parent task, a sibling), an IANA zone, or a rule the calendar must accept with the task's
# due date, or a webhook address that must resolve to a public host (nothing resolves here; the
# one allowed host is 127.0.0.1). Random ones are always (and rightly) 422s, so generated
# bodies get values that are valid whatever the user holds; the fields themselves are proven by
# tests/test_subtasks.py, test_order.py, test_recurring_tasks.py, test_recurrence.py,
# test_webhooks.py and test_webhook_addresses.py.
WEBHOOK_URL = "http://127.0.0.1:9/hooks"
REFERENCES = {
    "list_id": None,
    "parent_id": None,
    "time_zone": "Europe/Berlin",
    "url": WEBHOOK_URL,
}
DROPPED = ("recurrence", "after", "before")


def authenticate_as(case, user: Account) -> None:
    """Fill `{user_id}` with the token's user. Drop a generated `cursor` or `since`: one is
    valid only with the service's signature, so random ones are always (and rightly) a 422;
    they are covered by tests/test_task_list.py and tests/test_changes.py. Give references
    valid values (REFERENCES above)."""
    if "user_id" in case.path_parameters:
        case.path_parameters["user_id"] = user.id
    if case.query:
        case.query.pop("cursor", None)
        case.query.pop("since", None)
    # A negative case is invalid on purpose, maybe in exactly these fields: left as it is.
    generation = getattr(case.meta, "generation", None)
    if getattr(generation, "mode", "positive") != "positive":
        return
    # An Idempotency-Key names one request: a generated one, reused by the next generated
    # request, would rightly be 422 idempotency_key_reused. Each case gets its own.
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    if isinstance(case.body, dict):
        for field, value in REFERENCES.items():
            if field in case.body:
                case.body[field] = value
        for field in DROPPED:
            case.body.pop(field, None)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_the_document(case, user: Account):
    authenticate_as(case, user)
    case.call_and_validate(headers=user.headers)


def test_stateful_sequences_follow_the_documents_links(app, user: Account):
    """schemathesis' stateful phase: create a task, then chain its real id through the linked
    operations (get, replace, update, complete, delete) in generated orders."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)
    client = app.test_client()

    @schema.auth(retry_on=[401])
    class FreshLogin:
        """A token from a real login, fetched again whenever one stops working (a generated
        sequence may log the session out)."""

        def get(self, case, ctx):
            response = client.post(
                "/api/auth/login", json={"email": user.email, "password": PASSWORD}
            )
            return response.get_json()["data"]["access_token"]

        def set(self, case, token, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

    class Workflows(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case):
            authenticate_as(case, user)

    # Re-logins count against the auth limit; limits are not what this test is about.
    limiter.enabled = False
    try:
        for _ in range(STATEFUL_SUITES):
            try:
                Workflows.run(
                    settings=settings(
                        max_examples=25,
                        stateful_step_count=6,
                        deadline=None,
                        suppress_health_check=list(HealthCheck),
                    )
                )
                break
            except Flaky:
                # A replay against a live service cannot always reproduce a sequence (ids,
                # times and data differ); schemathesis' own engine retries the suite then too.
                # A check failure is a FailureGroup and fails the test.
                continue
        else:
            pytest.fail(f"no stateful suite ran to the end in {STATEFUL_SUITES} tries")
    finally:
        limiter.enabled = True
