"""schemathesis over the whole OpenAPI document: generated requests, authenticated as a real
user whose id fills every `{user_id}`, must get answers the document describes, never a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import Account

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_the_document(case, user: Account):
    if "user_id" in case.path_parameters:
        case.path_parameters["user_id"] = user.id
    case.call_and_validate(headers=user.headers)
