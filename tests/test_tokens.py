"""Every way a bearer token can be wrong is a 401 with a precise code, never a 422 or {"msg"}."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from tests.support.problems import assert_problem


def me(client, token: str):
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def claims_of(token: str, app) -> dict:
    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])


def test_expired_token(client, app, user):
    with app.app_context():
        token = create_access_token(
            identity=user.id,
            additional_claims={"sid": claims_of(user.access_token, app)["sid"]},
            expires_delta=timedelta(seconds=-1),
        )
    assert_problem(me(client, token), 401, "token_expired")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "Bearer"])
def test_malformed_token(client, token):
    response = me(client, token)
    assert response.status_code == 401
    assert response.get_json()["code"] in {"token_invalid", "unauthorized"}
    assert response.mimetype == "application/problem+json"


def test_token_signed_with_another_key(client, app, user):
    claims = claims_of(user.access_token, app)
    forged = pyjwt.encode(claims, "another-key-that-is-at-least-32-bytes!!", algorithm="HS256")
    assert_problem(me(client, forged), 401, "token_invalid")


def test_alg_none_is_refused(client, app, user):
    claims = claims_of(user.access_token, app)

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    assert_problem(me(client, unsigned), 401, "token_invalid")


def test_future_iat_is_refused(client, app, user):
    claims = claims_of(user.access_token, app)
    claims["iat"] = int(time.time()) + 3600
    token = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert_problem(me(client, token), 401, "token_invalid")


def test_token_without_session_is_refused(client, app, user):
    with app.app_context():
        token = create_access_token(identity=user.id)
    assert_problem(me(client, token), 401, "token_revoked")


def test_token_of_a_deleted_user_is_refused(client, app, user):
    from app.extensions import db
    from app.models import User

    db.session.delete(db.session.get(User, __import__("uuid").UUID(user.id)))
    db.session.commit()
    assert_problem(me(client, user.access_token), 401, "token_revoked")


def test_wrong_scheme_is_missing_token(client, user):
    response = client.get("/api/auth/me", headers={"Authorization": f"Token {user.access_token}"})
    assert_problem(response, 401, "unauthorized")
