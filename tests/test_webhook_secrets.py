"""Webhook secrets sealed at rest: round trip, nothing readable in the stored value, key
rotation, refusal without the key, and a signature made from an opened secret verifying."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from app.webhooks.delivery import signature_headers
from app.webhooks.secrets import SecretBox, SecretKeyError, generate_key, new_secret

OLD_KEY = generate_key()
NEW_KEY = generate_key()


def test_a_sealed_secret_opens_to_itself() -> None:
    box = SecretBox([NEW_KEY])
    secret = new_secret()
    assert box.open(box.seal(secret)) == secret


def test_the_stored_value_does_not_contain_the_secret() -> None:
    secret = new_secret()
    sealed = SecretBox([NEW_KEY]).seal(secret)
    assert (secret in sealed, secret[6:] in sealed) == (False, False)


def test_sealing_twice_gives_two_values() -> None:
    """Fernet's random IV: equal secrets cannot be spotted in a dump."""
    box = SecretBox([NEW_KEY])
    secret = new_secret()
    assert box.seal(secret) != box.seal(secret)


def test_another_key_cannot_open_it() -> None:
    sealed = SecretBox([OLD_KEY]).seal(new_secret())
    with pytest.raises(SecretKeyError, match="no WEBHOOK_SECRET_KEY key opens this secret"):
        SecretBox([NEW_KEY]).open(sealed)


def test_an_altered_value_is_refused() -> None:
    box = SecretBox([NEW_KEY])
    sealed = box.seal(new_secret())
    altered = sealed[:-8] + ("A" if sealed[-8] != "A" else "B") + sealed[-7:]
    with pytest.raises(SecretKeyError):
        box.open(altered)


def test_after_adding_a_new_key_old_values_still_open() -> None:
    secret = new_secret()
    sealed = SecretBox([OLD_KEY]).seal(secret)
    assert SecretBox([NEW_KEY, OLD_KEY]).open(sealed) == secret


def test_rotate_reseals_with_the_newest_key() -> None:
    secret = new_secret()
    sealed = SecretBox([OLD_KEY]).seal(secret)
    rotated = SecretBox([NEW_KEY, OLD_KEY]).rotate(sealed)
    assert SecretBox([NEW_KEY]).open(rotated) == secret


def test_from_setting_reads_comma_separated_keys_newest_first() -> None:
    secret = new_secret()
    sealed = SecretBox([OLD_KEY]).seal(secret)
    box = SecretBox.from_setting(f" {NEW_KEY} , {OLD_KEY} ,")
    assert (box.open(sealed), SecretBox([NEW_KEY]).open(box.seal(secret))) == (secret, secret)


@pytest.mark.parametrize("setting", ["", " , ", "not-a-key", NEW_KEY[:-4]])
def test_a_missing_or_malformed_setting_is_refused(setting: str) -> None:
    with pytest.raises(SecretKeyError):
        SecretBox.from_setting(setting)


def test_an_opened_secret_signs_what_the_reference_library_verifies() -> None:
    box = SecretBox([NEW_KEY])
    secret = new_secret()
    body = b'{"type": "webhook.ping", "timestamp": "2026-12-01T10:00:00Z", "data": {}}'

    headers = signature_headers(box.open(box.seal(secret)), "evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
