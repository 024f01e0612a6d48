"""One delivery attempt run in-process (app.webhooks.attempts.attempt, what a worker's job calls)
on an event written through the API: the address rules at delivery time, recorded in the
delivery log; a disabled webhook's event is skipped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app.extensions import db
from app.models import WebhookEvent
from app.webhooks.attempts import attempt
from app.webhooks.jobs import DeliveryFailed
from tests.support.accounts import Account
from tests.support.dns import FakeDns, install
from tests.support.receiver import Receiver, running_receiver

PUBLIC_V4 = "93.184.215.14"
HOST = "hooks.example.com"


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """No lookup in these tests reaches a real resolver."""
    return install(monkeypatch)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def create_webhook(client: FlaskClient, user: Account, url: str) -> dict:
    response = client.post(
        f"/api/{user.id}/webhooks", json={"url": url, "events": ["*"]}, headers=user.headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def ping(client: FlaskClient, user: Account, webhook_id: str) -> uuid.UUID:
    response = client.post(f"/api/{user.id}/webhooks/{webhook_id}/ping", headers=user.headers)
    assert response.status_code == 202, response.get_json()
    return uuid.UUID(response.get_json()["data"]["event_id"])


def deliveries(client: FlaskClient, user: Account, webhook_id: str) -> list[dict]:
    response = client.get(f"/api/{user.id}/webhooks/{webhook_id}/deliveries", headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def test_a_host_that_resolves_to_loopback_at_delivery_is_refused_and_logged(
    app: Flask, client: FlaskClient, user: Account, dns: FakeDns, receiver: Receiver
) -> None:
    """Public when the webhook was created, 127.0.0.1 (where a receiver listens) when the
    job runs: refused before any connection, recorded as a failed attempt, retried later."""
    dns.table[HOST] = [PUBLIC_V4]
    hook = create_webhook(client, user, f"https://{HOST}:{receiver.port}/hook")
    event_id = ping(client, user, hook["id"])
    dns.table[HOST] = ["127.0.0.1"]

    with pytest.raises(DeliveryFailed):  # the default schedule has retries left
        attempt(event_id, failed_before=0)

    [logged] = deliveries(client, user, hook["id"])
    assert (logged["event_id"], logged["attempt"], logged["status_code"]) == (
        str(event_id),
        1,
        None,
    )
    assert logged["error"].startswith("refused:") and "127.0.0.1" in logged["error"]
    assert (receiver.connections, receiver.received) == (0, [])
    # Asked at creation, and again at delivery (as an absolute name: "hooks.example.com.").
    assert [name.removesuffix(".") for name in dns.queries] == [HOST, HOST]
    event = db.session.get(WebhookEvent, event_id, populate_existing=True)
    assert event is not None and (event.state, event.attempts) == ("pending", 1)


def test_the_last_refused_attempt_fails_the_event(
    app: Flask,
    client: FlaskClient,
    user: Account,
    dns: FakeDns,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the schedule spent, a refused attempt is not retried: the event has failed."""
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", [1.0])
    dns.table[HOST] = [PUBLIC_V4]
    hook = create_webhook(client, user, f"https://{HOST}:{receiver.port}/hook")
    event_id = ping(client, user, hook["id"])
    dns.table[HOST] = ["::ffff:127.0.0.1"]

    attempt(event_id, failed_before=1)  # no DeliveryFailed: nothing is left to retry

    [logged] = deliveries(client, user, hook["id"])
    assert (logged["attempt"], logged["status_code"], logged["error"][:8]) == (2, None, "refused:")
    event = db.session.get(WebhookEvent, event_id, populate_existing=True)
    assert event is not None and event.state == "failed"
    assert receiver.connections == 0


def test_an_event_of_a_webhook_disabled_meanwhile_is_skipped_unsent(
    app: Flask,
    client: FlaskClient,
    user: Account,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])
    hook = create_webhook(client, user, f"{receiver.base_url}/hook")
    event_id = ping(client, user, hook["id"])
    event = db.session.get(WebhookEvent, event_id)
    assert event is not None
    db.session.execute(
        text("UPDATE webhooks SET active = false, disabled_reason = 'test' WHERE id = :id"),
        {"id": hook["id"]},
    )

    attempt(event_id, failed_before=0)

    event = db.session.get(WebhookEvent, event_id, populate_existing=True)
    assert event is not None and event.state == "skipped"
    assert (deliveries(client, user, hook["id"]), receiver.connections) == ([], 0)
