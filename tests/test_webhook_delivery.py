"""One delivery attempt against a real receiver on 127.0.0.1: Standard Webhooks signature (verified
by the reference library), answers and their meaning, Retry-After, timeouts, the body cap,
redirects, TLS with the right name, and DNS rebinding refused before any connection."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme
from standardwebhooks.webhooks import Webhook

from app.webhooks.addresses import check_url
from app.webhooks.delivery import (
    BODY_CAP,
    USER_AGENT,
    Attempt,
    deliver,
    parse_retry_after,
    signature_headers,
)
from app.webhooks.secrets import new_secret
from tests.support.dns import FakeDns, install
from tests.support.receiver import Answer, Receiver, running_receiver

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
EVENT_ID = "evt_2f6e1c0a9b8d4e7f"
BODY = json.dumps(
    {"type": "task.completed", "timestamp": "2026-12-01T10:00:00Z", "data": {"id": "t1"}}
).encode()
LOCAL = ["127.0.0.1"]
PUBLIC_V4 = "93.184.215.14"


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """No lookup in these tests reaches a real resolver."""
    return install(monkeypatch)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def send(receiver: Receiver, *, path: str = "/hook", **options: object) -> Attempt:
    """Deliver the test event to the receiver, now, with 127.0.0.1 allowed."""
    options.setdefault("allowed_hosts", LOCAL)
    return deliver(
        receiver.base_url + path,
        SECRET,
        EVENT_ID,
        int(time.time()),
        BODY,
        **options,  # type: ignore[arg-type]
    )


# The request: headers, body, signature.


def test_the_signature_verifies_with_the_reference_library(receiver: Receiver) -> None:
    send(receiver)
    [request] = receiver.received
    assert Webhook(SECRET).verify(request.body, request.headers) == json.loads(BODY)


def test_the_body_is_sent_as_given(receiver: Receiver) -> None:
    send(receiver)
    assert [(r.method, r.path, r.body) for r in receiver.received] == [("POST", "/hook", BODY)]


def test_the_request_headers(receiver: Receiver) -> None:
    timestamp = int(time.time())
    deliver(receiver.base_url + "/hook", SECRET, EVENT_ID, timestamp, BODY, allowed_hosts=LOCAL)
    [request] = receiver.received
    assert {
        name: request.headers[name]
        for name in ("host", "content-type", "user-agent", "webhook-id", "webhook-timestamp")
    } == {
        "host": f"127.0.0.1:{receiver.port}",
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": EVENT_ID,
        "webhook-timestamp": str(timestamp),
    }


def test_the_webhook_id_is_the_same_on_every_attempt_of_one_event(receiver: Receiver) -> None:
    send(receiver)
    send(receiver)
    assert [r.headers["webhook-id"] for r in receiver.received] == [EVENT_ID, EVENT_ID]


def test_each_attempt_is_signed_with_its_own_timestamp(receiver: Receiver) -> None:
    now = int(time.time())
    for timestamp in (now - 60, now):
        deliver(receiver.base_url, SECRET, EVENT_ID, timestamp, BODY, allowed_hosts=LOCAL)
    assert [
        Webhook(SECRET).verify(r.body, r.headers) == json.loads(BODY) for r in receiver.received
    ] == [True, True]


def test_a_signature_with_another_secret_does_not_verify(receiver: Receiver) -> None:
    send(receiver)
    [request] = receiver.received
    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(new_secret()).verify(request.body, request.headers)


def test_the_signature_matches_the_specification_example() -> None:
    """The Standard Webhooks / Svix published example: secret, id, timestamp, payload."""
    headers = signature_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert (secret[:6], len(base64.b64decode(secret[6:], validate=True))) == ("whsec_", 32)


def test_two_new_secrets_differ() -> None:
    assert new_secret() != new_secret()


def test_a_new_secret_is_accepted_by_the_reference_library() -> None:
    secret = new_secret()
    headers = signature_headers(secret, EVENT_ID, int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


# The answer and what it means.


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_a_2xx_answer_succeeds(status: int) -> None:
    with running_receiver(Answer(status=status)) as receiver:
        attempt = send(receiver)
    assert (attempt.status_code, attempt.succeeded, attempt.gone, attempt.error) == (
        status,
        True,
        False,
        None,
    )


@pytest.mark.parametrize("status", [400, 401, 404, 409, 429, 500, 502, 503])
def test_any_other_answer_fails(status: int) -> None:
    with running_receiver(Answer(status=status)) as receiver:
        attempt = send(receiver)
    assert (attempt.status_code, attempt.succeeded, attempt.gone, attempt.error) == (
        status,
        False,
        False,
        None,
    )


def test_410_fails_and_says_gone() -> None:
    with running_receiver(Answer(status=410)) as receiver:
        attempt = send(receiver)
    assert (attempt.status_code, attempt.succeeded, attempt.gone) == (410, False, True)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed(status: int) -> None:
    with running_receiver(Answer(status=status, headers={"Location": "/elsewhere"})) as receiver:
        attempt = send(receiver)
        paths = [r.path for r in receiver.received]
    assert (attempt.status_code, attempt.succeeded, paths) == (status, False, ["/hook"])


def test_the_answer_body_is_kept_for_the_log() -> None:
    with running_receiver(Answer(status=500, body=b'{"error": "database down"}')) as receiver:
        attempt = send(receiver)
    assert attempt.body == b'{"error": "database down"}'


def test_the_address_connected_to_is_recorded(receiver: Receiver) -> None:
    assert send(receiver).address == "127.0.0.1"


def test_retry_after_in_seconds() -> None:
    with running_receiver(Answer(status=503, headers={"Retry-After": "120"})) as receiver:
        attempt = send(receiver)
    assert attempt.retry_after == 120


def test_retry_after_as_an_http_date_counts_from_the_receivers_date() -> None:
    headers = {
        "Date": "Wed, 01 Jan 2025 00:00:00 GMT",
        "Retry-After": "Wed, 01 Jan 2025 00:02:00 GMT",
    }
    with running_receiver(Answer(status=429, headers=headers)) as receiver:
        attempt = send(receiver)
    assert attempt.retry_after == 120


def test_no_retry_after_is_none(receiver: Receiver) -> None:
    assert send(receiver).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0),
        ("120", 120),
        (" 30 ", 30),
        ("86400", 86400),
        ("Wed, 01 Jan 2025 00:02:00 GMT", 120),
        ("Wed, 01 Jan 2025 00:00:00 GMT", 0),
        ("Tue, 31 Dec 2024 23:00:00 GMT", 0),  # already past
        ("Wednesday, 01-Jan-25 00:02:00 GMT", 120),  # RFC 850 form, still an HTTP-date
        ("Wed Jan  1 00:02:00 2025", None),  # asctime: no zone, read as no date
        ("-1", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are digits to str.isdigit
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: int | None) -> None:
    now = 1735689600.0  # 2025-01-01T00:00:00Z
    assert parse_retry_after(value, now) == seconds


# Time and size limits.


def test_a_receiver_slower_than_the_timeout_is_a_timeout() -> None:
    with running_receiver(Answer(delay=5)) as receiver:
        attempt = send(receiver, timeout=0.5)
    assert (attempt.status_code, attempt.succeeded, attempt.error) == (
        None,
        False,
        "timeout after 0.5s",
    )


def test_the_timeout_bounds_the_whole_attempt_not_each_read() -> None:
    """A receiver that trickles a byte every 0.2 s never makes one read wait 1 s, yet the
    attempt ends at its 1 s deadline."""
    with running_receiver(Answer(trickle=0.2)) as receiver:
        attempt = send(receiver, timeout=1.0)
    assert (attempt.status_code, attempt.error) == (None, "timeout after 1s")


def test_a_1_mb_answer_is_read_only_up_to_the_cap() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    with running_receiver(Answer(status=200, body=body)) as receiver:
        attempt = send(receiver)
    assert (attempt.succeeded, attempt.body) == (True, body[:BODY_CAP])


def test_an_answer_that_never_ends_is_not_waited_for() -> None:
    """64 KB of a declared 1 MB, then silence: reading past the cap would end in the timeout."""
    answer = Answer(status=200, body=b"x" * 65536, declared_length=1 << 20, hold=10)
    with running_receiver(answer) as receiver:
        attempt = send(receiver, timeout=1.5)
    assert (attempt.succeeded, attempt.error, len(attempt.body)) == (True, None, BODY_CAP)


# Failures without an answer.


def test_nothing_listening_is_a_connection_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        attempt = deliver(
            f"http://127.0.0.1:{port}/",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=LOCAL,
        )
    assert (attempt.status_code, str(attempt.error).startswith("connection failed:")) == (
        None,
        True,
    )


def test_a_receiver_that_hangs_up_is_a_connection_failure() -> None:
    with running_receiver(Answer(drop=True)) as receiver:
        attempt = send(receiver)
    assert (attempt.status_code, attempt.error) == (
        None,
        "connection failed: Server disconnected without sending a response.",
    )


def test_the_next_address_is_tried_when_one_refuses(dns: FakeDns) -> None:
    """127.0.0.2 is loopback too but the receiver listens on 127.0.0.1 only."""
    dns.table["receiver.test"] = ["127.0.0.2", "127.0.0.1"]
    with running_receiver() as receiver:
        attempt = deliver(
            f"http://receiver.test:{receiver.port}/hook",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=["receiver.test"],
        )
    assert (attempt.succeeded, attempt.address) == (True, "127.0.0.1")


def test_proxy_settings_in_the_environment_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would make the connection to an address that was never checked."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert send(receiver).succeeded is True


# Where the request goes: checked at every attempt, pinned to what was checked.


def test_dns_rebinding_is_refused_at_delivery_without_a_connection(
    dns: FakeDns, receiver: Receiver
) -> None:
    """Public when the webhook was created, 127.0.0.1 when it is delivered."""
    url = f"https://hooks.example.com:{receiver.port}/hook"
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    assert check_url(url) == url
    dns.table["hooks.example.com"] = ["127.0.0.1"]
    attempt = deliver(url, SECRET, EVENT_ID, int(time.time()), BODY)
    assert (attempt.status_code, attempt.error, receiver.connections) == (
        None,
        "refused: Its host name resolves to a non-public address (127.0.0.1).",
        0,
    )


def test_one_non_public_answer_at_delivery_is_refused(dns: FakeDns, receiver: Receiver) -> None:
    dns.table["hooks.example.com"] = [PUBLIC_V4, "127.0.0.1"]
    attempt = deliver(
        f"https://hooks.example.com:{receiver.port}/", SECRET, EVENT_ID, int(time.time()), BODY
    )
    assert (attempt.error, receiver.connections) == (
        "refused: Its host name resolves to a non-public address (127.0.0.1).",
        0,
    )


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "localhost."]
)
def test_a_non_public_host_is_refused_at_delivery(receiver: Receiver, host: str) -> None:
    """The same rules as at creation (a URL stored before a rule existed is caught here)."""
    attempt = deliver(f"https://{host}:{receiver.port}/", SECRET, EVENT_ID, 0, BODY)
    assert (
        attempt.status_code,
        str(attempt.error).startswith("refused: "),
        receiver.connections,
    ) == (
        None,
        True,
        0,
    )


def test_plain_http_to_a_host_not_allowed_is_refused(dns: FakeDns) -> None:
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    attempt = deliver("http://hooks.example.com/", SECRET, EVENT_ID, 0, BODY)
    assert (attempt.error, dns.queries) == (
        "refused: Must be an https:// URL (http:// only for the allowed hosts).",
        [],
    )


def test_the_host_is_resolved_once_per_attempt(dns: FakeDns) -> None:
    """The address checked is the address connected to: no second lookup in between."""
    dns.table["receiver.test"] = ["127.0.0.1"]
    with running_receiver() as receiver:
        deliver(
            f"http://receiver.test:{receiver.port}/",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=["receiver.test"],
        )
    assert dns.queries == ["receiver.test"]


def test_every_attempt_resolves_again(dns: FakeDns) -> None:
    dns.table["receiver.test"] = ["127.0.0.1"]
    with running_receiver() as receiver:
        for _ in range(2):
            deliver(
                f"http://receiver.test:{receiver.port}/",
                SECRET,
                EVENT_ID,
                int(time.time()),
                BODY,
                allowed_hosts=["receiver.test"],
            )
    assert dns.queries == ["receiver.test", "receiver.test"]


# TLS: connected to the pinned address, yet the name is what is verified and sent.


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_tls_sends_the_host_name_and_verifies_it(dns: FakeDns, ca: trustme.CA) -> None:
    dns.table["hooks.example.test"] = ["127.0.0.1"]
    with running_receiver(tls=lambda: server_context(ca, "hooks.example.test")) as receiver:
        attempt = deliver(
            f"https://hooks.example.test:{receiver.port}/hook",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=["hooks.example.test"],
            ssl_context=client_context(ca),
        )
        seen = (receiver.sni, [r.headers["host"] for r in receiver.received])
    assert (attempt.succeeded, attempt.address, seen) == (
        True,
        "127.0.0.1",
        (["hooks.example.test"], [f"hooks.example.test:{receiver.port}"]),
    )


def test_tls_refuses_a_certificate_for_another_name(dns: FakeDns, ca: trustme.CA) -> None:
    dns.table["hooks.example.test"] = ["127.0.0.1"]
    with running_receiver(tls=lambda: server_context(ca, "other.example.test")) as receiver:
        attempt = deliver(
            f"https://hooks.example.test:{receiver.port}/hook",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=["hooks.example.test"],
            ssl_context=client_context(ca),
        )
        received = receiver.received
    assert (attempt.status_code, str(attempt.error).startswith("tls failed:"), received) == (
        None,
        True,
        [],
    )


def test_tls_refuses_an_unknown_authority_by_default(dns: FakeDns, ca: trustme.CA) -> None:
    """Without a context, certifi's authorities are the only ones trusted."""
    dns.table["hooks.example.test"] = ["127.0.0.1"]
    with running_receiver(tls=lambda: server_context(ca, "hooks.example.test")) as receiver:
        attempt = deliver(
            f"https://hooks.example.test:{receiver.port}/hook",
            SECRET,
            EVENT_ID,
            int(time.time()),
            BODY,
            allowed_hosts=["hooks.example.test"],
        )
    assert (attempt.status_code, str(attempt.error).startswith("tls failed:")) == (None, True)
