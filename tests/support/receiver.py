"""A real HTTP(S) webhook receiver on 127.0.0.1 for tests: records every request it gets and
answers as the test scripted it."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """One request as the receiver read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """How the receiver answers: status, headers, body; `delay` seconds before answering;
    `trickle` sends the status line one byte per `trickle` seconds; `hold` keeps the
    connection open that long after the body (a body that never ends)."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    trickle: float = 0.0
    hold: float = 0.0
    declared_length: int | None = None
    drop: bool = False  # close the connection without answering


@dataclass
class Receiver:
    """The running receiver: its URL, what it received, and the answer it gives."""

    base_url: str
    port: int
    answer: Answer
    received: list[Received] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    connections: int = 0  # TCP connections accepted (TLS handshakes included)
    # Set when the test ends, so that a handler holding a connection stops at once.
    stop: threading.Event = field(default_factory=threading.Event)


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:
            self._record()
            self._answer()

        def do_GET(self) -> None:
            self._record()
            self._answer()

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            receiver.received.append(
                Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )

        def _answer(self) -> None:
            answer = receiver.answer
            if answer.drop:
                self.close_connection = True
                return
            if answer.delay and receiver.stop.wait(answer.delay):
                return
            if answer.trickle:
                line = f"HTTP/1.1 {answer.status} X\r\n".encode()
                for byte in line:
                    if receiver.stop.wait(answer.trickle):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            length = (
                answer.declared_length if answer.declared_length is not None else len(answer.body)
            )
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                self.wfile.write(answer.body)
                self.wfile.flush()
            except OSError:
                return
            if answer.hold:
                receiver.stop.wait(answer.hold)
            self.close_connection = True

    return Handler


@contextmanager
def running_receiver(
    answer: Answer | None = None,
    *,
    tls: Callable[[], ssl.SSLContext] | None = None,
) -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (a free port) in a thread until the block ends; with `tls`, the
    server side of TLS comes from that context (and the SNI names it saw are recorded)."""
    receiver = Receiver("", 0, answer or Answer())
    context = tls() if tls else None
    if context is not None:

        def remember_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
            receiver.sni.append(name)

        context.sni_callback = remember_sni

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, Any]:
            # Counted before any TLS handshake, so a refused handshake still shows.
            sock, address = self.socket.accept()
            receiver.connections += 1
            if context is None:
                return sock, address
            try:
                return context.wrap_socket(sock, server_side=True), address
            except OSError:
                sock.close()
                raise

    server = Server(("127.0.0.1", 0), _handler(receiver))
    receiver.port = int(server.server_address[1])
    receiver.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{receiver.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
