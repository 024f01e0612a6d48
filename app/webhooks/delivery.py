"""One webhook delivery attempt: resolve and check the host, connect to that address, POST a
Standard Webhooks request, read the first few KB of the answer and say how it went."""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import certifi
import httpcore
from standardwebhooks.webhooks import Webhook

from app.webhooks.addresses import UnsafeUrl, parse_url, resolve_public

TIMEOUT_SECONDS = 10.0
# What is kept of an answer for the delivery log; the rest is never read.
BODY_CAP = 4096
USER_AGENT = "taskapi-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt came to, for the delivery log and the retry decision."""

    status_code: int | None  # None when no HTTP answer came
    error: str | None  # why no HTTP answer came (refused, timeout, connection, TLS)
    duration_ms: int
    retry_after: int | None  # seconds the receiver asked to wait (Retry-After), if any
    succeeded: bool  # a 2xx answer
    gone: bool  # a 410 answer: the webhook is to be disabled
    body: bytes = b""  # the first BODY_CAP bytes of the answer
    address: str | None = None  # the address connected to


def signature_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed by the reference library."""
    signature = Webhook(secret).sign(
        event_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode("utf-8")
    )
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def parse_retry_after(value: str | None, now: float) -> int | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110, 10.2.3);
    None when absent or unreadable, 0 for a date already past."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # an HTTP-date is always GMT; a zoneless date is not one
    return max(0, int(when.timestamp() - now + 0.5))


def deliver(
    url: str,
    secret: str,
    event_id: str,
    timestamp: int,
    body: bytes,
    *,
    timeout: float = TIMEOUT_SECONDS,
    allowed_hosts: Iterable[str] = (),
    ssl_context: ssl.SSLContext | None = None,
) -> Attempt:
    """POST `body` to `url` once, signed; never raises for what the network or the receiver
    does. The host is resolved and checked now and the request goes to an address of that
    answer (no second lookup); redirects are not followed; `timeout` bounds the whole."""
    started = time.monotonic()
    deadline = started + timeout
    allowed_hosts = tuple(allowed_hosts)

    def attempt(**fields: Any) -> Attempt:
        duration_ms = int((time.monotonic() - started) * 1000)
        return Attempt(duration_ms=duration_ms, **fields)

    try:
        target = parse_url(url, allowed_hosts)
        addresses = resolve_public(target.host, target.port, allowed_hosts)
    except UnsafeUrl as exc:
        return attempt(
            status_code=None, error=f"refused: {exc}", retry_after=None, succeeded=False, gone=False
        )
    backend = _PinnedBackend(target.host, addresses, deadline)
    authority = target.url.split("://", 1)[1].split("/", 1)[0]
    headers = {
        "host": authority,
        "user-agent": USER_AGENT,
        "content-type": "application/json",
        **signature_headers(secret, event_id, timestamp, body),
    }
    pool = httpcore.ConnectionPool(
        ssl_context=ssl_context or _default_ssl_context(),
        max_connections=1,
        retries=0,
        network_backend=backend,
    )
    per_operation = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    try:
        with (
            pool,
            pool.stream(
                "POST",
                target.url,
                headers=list(headers.items()),
                content=body,
                extensions={"timeout": per_operation},
            ) as response,
        ):
            kept = _read_capped(response)
            answered = time.time()
    except httpcore.TimeoutException:
        return attempt(
            status_code=None,
            error=f"timeout after {timeout:g}s",
            retry_after=None,
            succeeded=False,
            gone=False,
            address=backend.connected,
        )
    except httpcore.ConnectError as exc:
        return attempt(
            status_code=None,
            error=_connect_error(exc),
            retry_after=None,
            succeeded=False,
            gone=False,
            address=backend.connected,
        )
    except (httpcore.ProtocolError, httpcore.NetworkError) as exc:
        return attempt(
            status_code=None,
            error=f"connection failed: {exc or type(exc).__name__}",
            retry_after=None,
            succeeded=False,
            gone=False,
            address=backend.connected,
        )
    answer_headers = {name.lower(): value for name, value in response.headers}
    server_now = parse_retry_after_date(answer_headers.get(b"date"), fallback=answered)
    retry_after_header = answer_headers.get(b"retry-after")
    return attempt(
        status_code=response.status,
        error=None,
        retry_after=parse_retry_after(
            retry_after_header.decode("latin-1") if retry_after_header else None, server_now
        ),
        succeeded=200 <= response.status < 300,
        gone=response.status == 410,
        body=kept,
        address=backend.connected,
    )


def parse_retry_after_date(value: bytes | None, *, fallback: float) -> float:
    """The receiver's clock (its Date header) as a Unix time, else `fallback`: an HTTP-date
    Retry-After is meant relative to the answer, whatever the two clocks say."""
    if value is None:
        return fallback
    try:
        when = email.utils.parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return fallback
    return fallback if when.tzinfo is None else when.timestamp()


def _read_capped(response: httpcore.Response) -> bytes:
    """The first BODY_CAP bytes; leaving the stream early closes the connection, so the
    rest is never read."""
    kept = b""
    for chunk in response.iter_stream():
        kept += chunk
        if len(kept) >= BODY_CAP:
            break
    return kept[:BODY_CAP]


def _connect_error(exc: httpcore.ConnectError) -> str:
    # httpcore wraps the socket's or the TLS layer's error: as the cause, the context or
    # its argument, depending on where it was raised.
    origins = (exc.__cause__, exc.__context__, exc.args[0] if exc.args else None)
    if any(isinstance(origin, ssl.SSLError) for origin in origins):
        return f"tls failed: {exc}"
    return f"connection failed: {exc or 'refused'}"


_ssl_context: ssl.SSLContext | None = None


def _default_ssl_context() -> ssl.SSLContext:
    """Certificate checks on, against certifi's CA bundle; built once per process."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context(cafile=certifi.where())
    return _ssl_context


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses that were checked, never to what `host` resolves to later,
    and caps every network operation by what is left of the attempt's deadline."""

    def __init__(self, host: str, addresses: list[str], deadline: float) -> None:
        self._host = host
        self._addresses = addresses
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()
        self.connected: str | None = None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._host:
            raise httpcore.ConnectError(f"unexpected host {host!r}")
        failure: Exception | None = None
        # A host with an IPv6 and an IPv4 answer may be unreachable over one of them.
        for address in self._addresses:
            remaining = _remaining(self._deadline, timeout, httpcore.ConnectTimeout)
            try:
                # A numeric address: create_connection's getaddrinfo makes no DNS query.
                stream = self._inner.connect_tcp(
                    address, port, timeout=remaining, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            self.connected = address
            return _DeadlineStream(stream, self._deadline)
        raise failure or httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(0.0, self._deadline - time.monotonic())))


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose reads and writes never wait past the deadline: a receiver trickling
    one byte at a time cannot stretch an attempt beyond its total timeout."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(
            max_bytes, _remaining(self._deadline, timeout, httpcore.ReadTimeout)
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        remaining = _remaining(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, remaining), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _remaining(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)
