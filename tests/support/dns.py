"""A DNS stand-in at the socket level: socket.getaddrinfo answers from a table the test sets
(and can change between two lookups), so no test depends on, or sends to, a real resolver."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest


class FakeDns:
    """Names to addresses; every name looked up is recorded in `queries`."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.table: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self._real = real

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            # A numeric address is no lookup (socket.create_connection passes those here).
            return self._real(host, port, family, type, proto, flags)
        self.queries.append(name)
        addresses = self.table.get(name.removesuffix(".").lower())
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers: list[tuple[Any, ...]] = []
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if ip.version == 6:
                answers.append(
                    (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port or 0), 0, 0))
                )
            else:
                answers.append(
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))
                )
        return answers


def install(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Replace name resolution for the test's duration (monkeypatch undoes it)."""
    fake = FakeDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake
