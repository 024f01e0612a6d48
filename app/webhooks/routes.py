"""HTTP routes of /api/{user_id}/webhooks: list, create, get, change, delete, ping, deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from flask import url_for
from flask.views import MethodView

from app.common.blueprints import UserBlueprint
from app.common.docs import errors, links_from_created, location_header
from app.core.database import read_only
from app.webhooks import service
from app.webhooks.schemas import (
    CreatedWebhookEnvelope,
    DeliveryListEnvelope,
    PingEnvelope,
    WebhookCreateSchema,
    WebhookEnvelope,
    WebhookListEnvelope,
    WebhookPatchSchema,
)

blp = UserBlueprint(
    "webhooks",
    __name__,
    description="URLs told of a user's changes and reminders (Standard Webhooks).",
)

CREATED_WEBHOOK_LINKS = links_from_created(
    "webhook_id",
    [
        ("GetWebhook", "getWebhook", "The created webhook."),
        ("PingWebhook", "pingWebhook", "Send it a webhook.ping event."),
        ("ListWebhookDeliveries", "listWebhookDeliveries", "Its delivery attempts."),
        ("DeleteWebhook", "deleteWebhook", "Delete the created webhook."),
    ],
)


@blp.route("/webhooks")
class Webhooks(MethodView):
    @read_only
    @blp.response(200, WebhookListEnvelope)
    @errors(blp, 403, auth=True)
    @blp.doc(operationId="listWebhooks")
    def get(self, user_id: uuid.UUID) -> dict:
        """List the user's webhooks, oldest first.

        Secrets are never listed: each was shown once, in its creation's answer.
        """
        webhooks = service.list_webhooks(user_id=user_id)
        return {"data": webhooks, "meta": {"count": len(webhooks)}}

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, CreatedWebhookEnvelope, headers=location_header("webhook"))
    @errors(blp, 403, 409, auth=True, body=True)
    @blp.doc(operationId="createWebhook", responses={201: {"links": CREATED_WEBHOOK_LINKS}})
    def post(self, data: dict, user_id: uuid.UUID) -> Any:
        """Register a URL for events; the answer holds its signing `secret`, shown only here.

        422 naming `url` when it is not https:// (or http:// for an allowed host) or its host
        is or resolves to a non-public address; 409 `limit_reached` past 10 webhooks.
        """
        created = service.create_webhook(user_id=user_id, **data)
        location = url_for("webhooks.WebhookById", user_id=user_id, webhook_id=created.id)
        return {"data": created}, 201, {"Location": location}


@blp.route("/webhooks/<uuid:webhook_id>")
class WebhookById(MethodView):
    @read_only
    @blp.response(200, WebhookEnvelope)
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="getWebhook")
    def get(self, user_id: uuid.UUID, webhook_id: uuid.UUID) -> dict:
        """Get one webhook.

        `active` is false once the service disabled it (a 410 Gone, or 50 events in a row that
        spent their retries); `disabled_reason` says which.
        """
        return {"data": service.get_webhook(user_id=user_id, webhook_id=webhook_id)}

    @blp.arguments(WebhookPatchSchema)
    @blp.response(200, WebhookEnvelope)
    @errors(blp, 403, 404, auth=True, body=True)
    @blp.doc(operationId="updateWebhook")
    def patch(self, data: dict, user_id: uuid.UUID, webhook_id: uuid.UUID) -> dict:
        """Change `url`, `events` or `description`; `active: true` re-enables it.

        Events that came while it was disabled are not sent afterwards.
        """
        webhook = service.update_webhook(user_id=user_id, webhook_id=webhook_id, changes=data)
        return {"data": webhook}

    @blp.response(204)
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="deleteWebhook")
    def delete(self, user_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
        """Delete the webhook.

        Its pending events and its delivery log go with it: nothing more is sent.
        """
        service.delete_webhook(user_id=user_id, webhook_id=webhook_id)


@blp.route("/webhooks/<uuid:webhook_id>/ping")
class WebhookPing(MethodView):
    @blp.response(202, PingEnvelope)
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="pingWebhook")
    def post(self, user_id: uuid.UUID, webhook_id: uuid.UUID) -> Any:
        """Send a `webhook.ping` event to this webhook (whatever it subscribed to).

        A disabled webhook's ping is recorded as skipped, like every event while disabled.
        """
        return {"data": {"event_id": service.ping(user_id=user_id, webhook_id=webhook_id)}}, 202


@blp.route("/webhooks/<uuid:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @read_only
    @blp.response(200, DeliveryListEnvelope)
    @errors(blp, 403, 404, auth=True)
    @blp.doc(operationId="listWebhookDeliveries")
    def get(self, user_id: uuid.UUID, webhook_id: uuid.UUID) -> dict:
        """List the webhook's latest 100 delivery attempts, newest first.

        Each attempt: the event (`event_id` is the `webhook-id` header), its number, the
        receiver's status (null when no answer came, with `error` saying why) and duration.
        """
        deliveries = service.list_deliveries(user_id=user_id, webhook_id=webhook_id)
        return {"data": deliveries, "meta": {"count": len(deliveries)}}
