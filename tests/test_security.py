"""Security properties: no account enumeration, no secrets in logs, tokens only as configured."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher

from tests.support.accounts import PASSWORD
from tests.support.problems import assert_problem


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts Argon2 hashes and verifications: the work that dominates auth timing."""
    calls = {"hash": 0, "verify": 0}
    original_hash, original_verify = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self, *args, **kwargs):
        calls["hash"] += 1
        return original_hash(self, *args, **kwargs)

    def counting_verify(self, *args, **kwargs):
        calls["verify"] += 1
        return original_verify(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    return calls


def test_login_does_the_same_work_for_unknown_emails_and_wrong_passwords(client, user, hash_calls):
    client.post("/api/auth/login", json={"email": user.email, "password": "wrong password"})
    known = dict(hash_calls)
    client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": "wrong password"}
    )
    assert hash_calls == {"hash": known["hash"] * 2, "verify": known["verify"] * 2}
    assert known == {"hash": 0, "verify": 1}


def test_the_dummy_hash_costs_what_real_hashes_cost(app, user):
    passwords = app.extensions["passwords"]
    assert passwords.hasher.check_needs_rehash(passwords.dummy_hash) is False


def test_register_hashes_before_it_knows_whether_the_email_is_taken(client, user, hash_calls):
    response = client.post("/api/auth/register", json={"email": user.email, "password": PASSWORD})
    assert_problem(response, 409, "email_taken")
    assert hash_calls["hash"] == 1


def test_no_password_or_token_reaches_the_logs(client, auth, caplog, capsys):
    secret = "a very secret password 42"
    with caplog.at_level(logging.DEBUG):
        account = auth.register(password=secret)
        client.post("/api/auth/login", json={"email": account.email, "password": "wrong " + secret})
        client.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {account.refresh_token}"}
        )
        client.post(
            "/api/auth/password",
            headers=account.headers,
            json={"current_password": secret, "new_password": secret + " new"},
        )
        client.get("/api/auth/me", headers={"Authorization": "Bearer not.a.token"})
        client.post("/api/auth/logout", headers=account.headers)
    logged = caplog.text + capsys.readouterr().out
    assert "request" in logged
    for needle in (secret, account.access_token, account.refresh_token, "Bearer ", "not.a.token"):
        assert needle not in logged


def test_production_hashes_meet_owasp_minimums(monkeypatch):
    from config import load_config

    monkeypatch.delenv("PASSWORD_HASH_TIME_COST", raising=False)
    monkeypatch.delenv("PASSWORD_HASH_MEMORY_KIB", raising=False)
    config = load_config()
    assert config["PASSWORD_HASH_TIME_COST"] >= 2
    assert config["PASSWORD_HASH_MEMORY_KIB"] >= 19 * 1024
