"""HTTP routes of /health: liveness (no I/O) and readiness (database and schema)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from app.common.schemas import ResponseSchema
from app.core.database import read_only
from app.errors import RETRY_AFTER_SECONDS, ApiError
from app.extensions import limiter
from app.health.service import database_state

blp = Blueprint("health", __name__, url_prefix="/health", description="Probes for orchestrators.")
limiter.exempt(blp)


class HealthSchema(ResponseSchema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


@blp.route("/live")
class Live(MethodView):
    @read_only
    @blp.response(200, HealthSchema)
    @blp.alt_response(500, response="INTERNAL_SERVER_ERROR")
    @blp.doc(operationId="checkLiveness")
    def get(self) -> dict:
        """200 while the process serves requests.

        Does no I/O at all, not even a database call: use it as the liveness probe. Not rate
        limited.
        """
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @read_only
    @blp.response(200, HealthSchema)
    @blp.alt_response(500, response="INTERNAL_SERVER_ERROR")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    @blp.doc(operationId="checkReadiness")
    def get(self) -> dict:
        """200 when the database answers and its schema is at the newest migration.

        Otherwise 503 `service_unavailable` with `Retry-After`, the reason in `detail`: use it
        as the readiness probe. Not rate limited.
        """
        ready, reason = database_state()
        if not ready:
            raise ApiError(503, detail=reason, headers={"Retry-After": RETRY_AFTER_SECONDS})
        return {"status": "ok"}
