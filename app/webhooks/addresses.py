"""Which webhook URLs may be called: the SSRF rules, applied at creation and at every delivery."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import quote, urlsplit

import idna

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What `ipaddress` gets wrong or leaves out (tests/test_webhook_addresses.py pins each one):
# its `is_global` is True for these on Python 3.11 to 3.13, although they are not globally
# reachable (IANA special-purpose registries) or make no sense as a webhook's address.
_NON_PUBLIC_V4 = (
    ipaddress.IPv4Network("192.88.99.0/24"),  # 6to4 relay anycast, deprecated (RFC 7526)
)
_NON_PUBLIC_V6 = (
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637, 2024)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215); global on 3.11
    ipaddress.IPv6Network("2002::/16"),  # 6to4: embeds an IPv4 address; global on 3.11, 3.12
    ipaddress.IPv6Network("2001::/32"),  # Teredo: embeds IPv4 addresses (not global already)
    ipaddress.IPv6Network("fec0::/10"),  # site-local, deprecated (RFC 3879); global everywhere
)
# The well-known NAT64 prefix (RFC 6052): a translator connects to the embedded IPv4 address,
# so that address is the one to judge. IPv6-only networks with DNS64 answer these for
# IPv4-only receivers, so refusing the whole prefix would refuse legitimate hosts there.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Names that never denote a public host, whatever a resolver answers for them: RFC 6761
# (localhost), RFC 6762 (local, mDNS), RFC 8375 (home.arpa), ICANN's private-use `internal`.
_SPECIAL_SUFFIXES = ("localhost", "local", "home.arpa", "internal")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DECIMAL = re.compile(r"^[0-9]+$")
_OCTAL = re.compile(r"^[0-7]+$")
_HEX = re.compile(r"^[0-9a-f]*$")
# Characters a URL never needs raw: controls, space, DEL; a backslash is a slash to browsers
# (WHATWG) and part of the authority to urllib, so it is refused rather than guessed at.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
# What stays as it is in a path or query; everything else (non-ASCII) is percent-encoded.
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"


class UnsafeUrl(ValueError):
    """A webhook URL that is malformed or would reach a non-public address; the message
    is written for a 422 naming `url`."""


class Target(NamedTuple):
    """A parsed, normalised webhook URL: what to connect to and what to send."""

    url: str  # normalised: scheme://host[:port]/path[?query], no fragment
    scheme: str  # "https" or "http"
    host: str  # lowercase A-labels, a dotted-quad IPv4 or a bare compressed IPv6
    port: int
    target: str  # the request target: path and query
    allowed: bool  # the host is in WEBHOOK_ALLOWED_HOSTS: no address rules apply to it
    ip: IPAddress | None  # the host as an address, when it is one


def is_public(ip: IPAddress) -> bool:
    """True when an address is globally reachable unicast: none of loopback, private,
    link-local, multicast, unspecified, reserved, shared, documentation, benchmarking, nor
    an IPv6 form that embeds a non-public IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False  # a zone id only ever qualifies a link-local address
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(ip in network for network in _NON_PUBLIC_V6):
            return False
    elif any(ip in network for network in _NON_PUBLIC_V4):
        return False
    # `is_global` alone lets multicast through (224.0.0.1 and ff0e::1 are "global"), and the
    # IPv4-compatible ::a.b.c.d form too on 3.11; the flags below close those.
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


def address_text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as text, the same on every Python: an IPv4-mapped IPv6 address as
    `::ffff:127.0.0.1` (3.13 writes it so; 3.11 and 3.12 wrote `::ffff:7f00:1`)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        zone = f"%{ip.scope_id}" if ip.scope_id else ""
        return f"::ffff:{ip.ipv4_mapped}{zone}"
    return str(ip)


def normalise_host(host: str) -> str:
    """The one spelling of a host: IDNA A-labels in lowercase without a trailing dot, an
    IPv4 address in dotted-quad (from any decimal, octal, hex or short form), an IPv6
    address compressed and without brackets. Raises UnsafeUrl for a malformed host."""
    return _parse_host(host)[0]


def parse_url(url: str, allowed_hosts: Iterable[str] = ()) -> Target:
    """Check a URL's form (no resolution) and normalise it; raises UnsafeUrl."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("Must be a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Must be at most {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN.search(url):
        raise UnsafeUrl("Must not contain spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed or invalid bracketed host
        raise UnsafeUrl("Has a malformed host.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeUrl("Must be an https:// URL.")
    if not parts.netloc:
        raise UnsafeUrl("Must name a host.")
    if "@" in parts.netloc:
        raise UnsafeUrl("Must not contain a user name or password.")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Has an invalid port.") from None
    if port == 0:
        raise UnsafeUrl("Has an invalid port.")
    # urlsplit's hostname lowercases and strips the brackets of an IPv6 literal; keep
    # whether there were brackets, since only a bracketed host may be an IPv6 address.
    raw_host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    raw_host = raw_host.removesuffix(":")
    host, ip = _parse_host(raw_host)
    allowed = host in normalise_allowed_hosts(allowed_hosts)
    if scheme == "http" and not allowed:
        raise UnsafeUrl("Must be an https:// URL (http:// only for the allowed hosts).")
    if ip is None and not allowed:
        if any(host == suffix or host.endswith("." + suffix) for suffix in _SPECIAL_SUFFIXES):
            raise UnsafeUrl("Must not name a local host.")
        if "." not in host:
            # A single label is completed by resolv.conf's search domains: internal names.
            raise UnsafeUrl("Must name a fully qualified host.")
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    target = quote(parts.path or "/", safe=_URL_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_URL_SAFE)
    shown_host = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    authority = shown_host if port == default_port else f"{shown_host}:{port}"
    normalised = f"{scheme}://{authority}{target}"
    if len(normalised) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Must be at most {MAX_URL_LENGTH} characters.")
    return Target(normalised, scheme, host, port, target, allowed, ip)


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> str:
    """The normalised URL when it may be called (its host resolved now, every address
    public, unless the host is allowed); raises UnsafeUrl with a message for a 422."""
    parsed = parse_url(url, allowed_hosts)
    if not parsed.allowed:
        resolve_public(parsed.host, parsed.port, allowed_hosts)
    return parsed.url


def resolve_public(host: str, port: int, allowed_hosts: Iterable[str] = ()) -> list[str]:
    """The addresses to connect to for `host`, resolved now (getaddrinfo); raises UnsafeUrl
    when it does not resolve or when any answer is non-public (unless the host is allowed:
    then every answer is returned as it is)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address, as Target.host holds it
    name, ip = _parse_host(host)
    allowed = name in normalise_allowed_hosts(allowed_hosts)
    if ip is not None:
        if not allowed and not is_public(ip):
            raise UnsafeUrl(f"Must not point to a non-public address ({address_text(ip)}).")
        return [address_text(ip)]
    try:
        # An allowed host may live in /etc/hosts or behind a search domain; any other name
        # is looked up as absolute (trailing dot), so no search domain is tried after it.
        answers = socket.getaddrinfo(name if allowed else name + ".", port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl("Its host name does not resolve.") from None
    addresses: list[str] = []
    for family, _type, _proto, _canonname, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]))
        if isinstance(address, ipaddress.IPv6Address) and len(sockaddr) == 4 and sockaddr[3]:
            address = ipaddress.IPv6Address(f"{address}%{sockaddr[3]}")
        # One non-public answer refuses the host: a client could be sent to any of them.
        if not allowed and not is_public(address):
            raise UnsafeUrl(
                f"Its host name resolves to a non-public address ({address_text(address)})."
            )
        if address_text(address) not in addresses:
            addresses.append(address_text(address))
    if not addresses:
        raise UnsafeUrl("Its host name does not resolve.")
    return addresses


def normalise_allowed_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """WEBHOOK_ALLOWED_HOSTS as normalised hosts (entries that are no host are ignored)."""
    normalised = set()
    for entry in hosts:
        entry = entry.strip()
        if entry.startswith("[") and entry.endswith("]"):
            entry = entry[1:-1]
        if not entry:
            continue
        try:
            # An entry may be a bare IPv6 address, which a URL would bracket.
            normalised.add(address_text(ipaddress.IPv6Address(entry)))
            continue
        except ValueError:
            pass
        try:
            normalised.add(normalise_host(entry))
        except UnsafeUrl:
            continue
    return frozenset(normalised)


def _parse_host(raw: str) -> tuple[str, IPAddress | None]:
    """(normalised host, its address when it is one); raises UnsafeUrl."""
    if not raw:
        raise UnsafeUrl("Must name a host.")
    if raw.startswith("[") or raw.endswith("]"):
        if not (raw.startswith("[") and raw.endswith("]")):
            raise UnsafeUrl("Has a malformed host.")
        inside = raw[1:-1]
        if "%" in inside:
            raise UnsafeUrl("Must not name an IPv6 zone.")
        try:
            v6 = ipaddress.IPv6Address(inside)
        except ValueError:
            raise UnsafeUrl("Has a malformed IPv6 address.") from None
        return address_text(v6), v6
    if ":" in raw:
        # An IPv6 address must be bracketed; a bare one is malformed (the port is ambiguous).
        raise UnsafeUrl("Has a malformed host.")
    if "%" in raw:
        # WHATWG percent-decodes a host before it reads it; urllib does not. No host needs a
        # percent sign, so refuse rather than interpret it one way or the other.
        raise UnsafeUrl("Has a malformed host.")
    try:
        mapped = idna.uts46_remap(raw, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise UnsafeUrl("Has a malformed host name.") from None
    if mapped.endswith("."):
        mapped = mapped[:-1]
    if not mapped or mapped.endswith(".") or mapped.startswith("."):
        raise UnsafeUrl("Has a malformed host name.")
    if _ends_in_number(mapped):
        v4 = _parse_ipv4(mapped)
        return str(v4), v4
    try:
        ascii_host = idna.encode(mapped, uts46=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        raise UnsafeUrl("Has a malformed host name.") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UnsafeUrl("Has a malformed host name.")
    return ascii_host, None


def _ends_in_number(host: str) -> bool:
    """WHATWG's "ends in a number": such a host is an IPv4 address or no host at all."""
    last = host.rsplit(".", 1)[-1]
    if _DECIMAL.match(last):
        return True
    return last.startswith("0x") and bool(_HEX.match(last[2:]))


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """WHATWG's IPv4 parser: one to four parts, each decimal, octal (leading 0) or hex (0x);
    the last part fills the remaining bytes (127.1 is 127.0.0.1, 2130706433 too)."""
    parts = host.split(".")
    if len(parts) > 4:
        raise UnsafeUrl("Has a malformed IPv4 address.")
    numbers = [_ipv4_number(part) for part in parts]
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise UnsafeUrl("Has a malformed IPv4 address.")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int:
    if part.startswith("0x"):
        digits = part[2:]
        if not _HEX.match(digits):
            raise UnsafeUrl("Has a malformed IPv4 address.")
        return int(digits, 16) if digits else 0
    if len(part) > 1 and part.startswith("0"):
        if not _OCTAL.match(part):
            raise UnsafeUrl("Has a malformed IPv4 address.")
        return int(part, 8)
    if not _DECIMAL.match(part):
        raise UnsafeUrl("Has a malformed IPv4 address.")
    return int(part)
