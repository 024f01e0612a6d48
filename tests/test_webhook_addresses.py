"""The SSRF rules for webhook URLs: every spelling of a non-public address, names, resolution,
allowed hosts, the URL's form and normalisation, and where Python's ipaddress falls short."""

from __future__ import annotations

import ipaddress

import pytest

from app.webhooks.addresses import (
    UnsafeUrl,
    check_url,
    is_public,
    normalise_allowed_hosts,
    normalise_host,
    resolve_public,
)
from tests.support.dns import FakeDns, install

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Every lookup in these tests answers from a table: none reaches a real resolver."""
    fake = install(monkeypatch)
    fake.table["hooks.example.com"] = [PUBLIC_V4]
    return fake


# Every spelling of a non-public address that a URL can carry as its host.
NON_PUBLIC_LITERALS = [
    # loopback, in each IPv4 spelling browsers and inet_aton accept
    ("https://127.0.0.1/", "127.0.0.1"),
    ("https://2130706433/", "127.0.0.1"),  # one decimal number
    ("https://0177.0.0.1/", "127.0.0.1"),  # octal
    ("https://0x7f.0.0.1/", "127.0.0.1"),  # hex part
    ("https://0x7F000001/", "127.0.0.1"),  # one hex number
    ("https://017700000001/", "127.0.0.1"),  # one octal number
    ("https://127.1/", "127.0.0.1"),  # short form: the last part fills three bytes
    ("https://127.0.1/", "127.0.0.1"),  # short form: the last part fills two bytes
    ("https://0x7f.1/", "127.0.0.1"),
    ("https://127.0.0.1./", "127.0.0.1"),  # trailing dot
    ("https://127\u30020\u30020\u30021/", "127.0.0.1"),  # ideographic full stops (UTS 46)
    ("https://127.255.255.254/", "127.255.255.254"),
    # unspecified
    ("https://0.0.0.0/", "0.0.0.0"),
    ("https://0/", "0.0.0.0"),
    ("https://[::]/", "::"),
    # IPv6 loopback and the IPv4-embedding forms
    ("https://[::1]/", "::1"),
    ("https://[0:0:0:0:0:0:0:1]/", "::1"),
    ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),  # IPv4-mapped
    ("https://[::FFFF:7F00:1]/", "::ffff:127.0.0.1"),
    ("https://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
    ("https://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
    ("https://[::127.0.0.1]/", "::7f00:1"),  # IPv4-compatible (deprecated)
    ("https://[::ffff:0:127.0.0.1]/", "::ffff:0:7f00:1"),  # IPv4-translated (SIIT)
    ("https://[64:ff9b::127.0.0.1]/", "64:ff9b::7f00:1"),  # NAT64 well-known prefix
    ("https://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1"),
    ("https://[64:ff9b:1::1]/", "64:ff9b:1::1"),  # local-use NAT64
    ("https://[2002:7f00:1::1]/", "2002:7f00:1::1"),  # 6to4 of 127.0.0.1
    ("https://[2002:a00:1::1]/", "2002:a00:1::1"),  # 6to4 of 10.0.0.1
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
    # private
    ("https://10.0.0.1/", "10.0.0.1"),
    ("https://10.1/", "10.0.0.1"),
    ("https://172.16.0.1/", "172.16.0.1"),
    ("https://172.31.255.255/", "172.31.255.255"),
    ("https://192.168.1.1/", "192.168.1.1"),
    ("https://3232235777/", "192.168.1.1"),
    ("https://[fc00::1]/", "fc00::1"),  # unique local
    ("https://[fd12:3456:789a::1]/", "fd12:3456:789a::1"),
    ("https://[fec0::1]/", "fec0::1"),  # site-local (deprecated)
    # link-local, the cloud metadata address first
    ("https://169.254.169.254/", "169.254.169.254"),
    ("https://0xa9fea9fe/", "169.254.169.254"),
    ("https://[fe80::1]/", "fe80::1"),
    # shared address space (carrier-grade NAT)
    ("https://100.64.0.1/", "100.64.0.1"),
    ("https://100.127.255.254/", "100.127.255.254"),
    # IETF protocol assignments, documentation, benchmarking
    ("https://192.0.0.1/", "192.0.0.1"),
    ("https://192.0.2.1/", "192.0.2.1"),
    ("https://198.51.100.1/", "198.51.100.1"),
    ("https://203.0.113.1/", "203.0.113.1"),
    ("https://198.18.0.1/", "198.18.0.1"),
    ("https://198.19.255.255/", "198.19.255.255"),
    ("https://[2001:db8::1]/", "2001:db8::1"),
    ("https://[3fff::1]/", "3fff::1"),
    ("https://[2001:2::1]/", "2001:2::1"),
    # multicast, reserved, broadcast, deprecated anycast
    ("https://224.0.0.1/", "224.0.0.1"),
    ("https://239.255.255.250/", "239.255.255.250"),
    ("https://[ff02::1]/", "ff02::1"),
    ("https://[ff0e::1]/", "ff0e::1"),
    ("https://240.0.0.1/", "240.0.0.1"),
    ("https://255.255.255.255/", "255.255.255.255"),
    ("https://4294967295/", "255.255.255.255"),
    ("https://192.88.99.1/", "192.88.99.1"),
    ("https://[100::1]/", "100::1"),  # discard-only
    ("https://[5f00::1]/", "5f00::1"),  # SRv6 SIDs
    # with a port, a path and a query, which change nothing
    ("https://127.0.0.1:8443/hook?x=1", "127.0.0.1"),
    ("https://[::1]:8443/hook", "::1"),
]


@pytest.mark.parametrize(("url", "address"), NON_PUBLIC_LITERALS)
def test_a_non_public_address_is_refused_in_every_spelling(url: str, address: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert str(refused.value) == f"Must not point to a non-public address ({address})."


@pytest.mark.parametrize(("url", "address"), NON_PUBLIC_LITERALS)
def test_a_literal_address_is_never_looked_up(dns: FakeDns, url: str, address: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url)
    assert dns.queries == []


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://LocalHost.:443/",
        "https://api.localhost/",
        "https://printer.local/",
        "https://router.home.arpa/",
        "https://db.internal/",
    ],
)
def test_a_local_name_is_refused_before_any_lookup(dns: FakeDns, url: str) -> None:
    dns.table["localhost"] = [PUBLIC_V4]  # even were a resolver to call it public
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert (str(refused.value), dns.queries) == ("Must not name a local host.", [])


def test_a_single_label_name_is_refused() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url("https://intranet/hook")
    assert str(refused.value) == "Must name a fully qualified host."


@pytest.mark.parametrize(
    ("answers", "address"),
    [
        (["127.0.0.1"], "127.0.0.1"),
        (["10.0.0.7"], "10.0.0.7"),
        (["169.254.169.254"], "169.254.169.254"),
        (["::1"], "::1"),
        (["::ffff:127.0.0.1"], "::ffff:127.0.0.1"),
        (["fd00::5"], "fd00::5"),
        (["0.0.0.0"], "0.0.0.0"),
        # One private answer among public ones is enough: a client may pick any of them.
        ([PUBLIC_V4, "10.0.0.7"], "10.0.0.7"),
        ([PUBLIC_V6, PUBLIC_V4, "192.168.0.9"], "192.168.0.9"),
    ],
)
def test_a_name_that_resolves_to_a_non_public_address_is_refused(
    dns: FakeDns, answers: list[str], address: str
) -> None:
    dns.table["rebind.example.net"] = answers
    with pytest.raises(UnsafeUrl) as refused:
        check_url("https://rebind.example.net/hook")
    assert str(refused.value) == f"Its host name resolves to a non-public address ({address})."


def test_a_name_is_looked_up_as_absolute(dns: FakeDns) -> None:
    """With the trailing dot, no search domain of resolv.conf is tried after it."""
    check_url("https://hooks.example.com/hook")
    assert dns.queries == ["hooks.example.com."]


def test_an_idna_name_is_looked_up_by_its_a_labels(dns: FakeDns) -> None:
    dns.table["xn--bcher-kva.example"] = ["192.168.1.1"]
    with pytest.raises(UnsafeUrl) as refused:
        check_url("https://B\u00fccher.example/hook")
    assert (str(refused.value), dns.queries) == (
        "Its host name resolves to a non-public address (192.168.1.1).",
        ["xn--bcher-kva.example."],
    )


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url("https://nowhere.example.org/hook")
    assert str(refused.value) == "Its host name does not resolve."


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://hooks.example.com/hook", "https://hooks.example.com/hook"),
        ("HTTPS://Hooks.Example.COM/Hook", "https://hooks.example.com/Hook"),
        ("https://hooks.example.com./hook", "https://hooks.example.com/hook"),
        ("https://hooks.example.com:443/hook", "https://hooks.example.com/hook"),
        ("https://hooks.example.com:8443/hook", "https://hooks.example.com:8443/hook"),
        ("https://hooks.example.com:/hook", "https://hooks.example.com/hook"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("https://hooks.example.com/hook#fragment", "https://hooks.example.com/hook"),
        ("https://hooks.example.com/a?b=c&d=e", "https://hooks.example.com/a?b=c&d=e"),
        ("https://hooks.example.com/caf\u00e9", "https://hooks.example.com/caf%C3%A9"),
        ("https://hooks.example.com/a%20b", "https://hooks.example.com/a%20b"),
        ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
        ("https://134744072/hook", "https://8.8.8.8/hook"),
        ("https://010.010.010.010/hook", "https://8.8.8.8/hook"),
        ("https://[2001:4860:4860:0::8888]/hook", "https://[2001:4860:4860::8888]/hook"),
        ("https://[::ffff:8.8.8.8]/hook", "https://[::ffff:8.8.8.8]/hook"),
        ("https://[64:ff9b::8.8.8.8]/hook", "https://[64:ff9b::808:808]/hook"),
    ],
)
def test_a_public_url_is_accepted_and_normalised(url: str, normalised: str) -> None:
    assert check_url(url) == normalised


def test_an_idna_host_is_normalised_to_its_a_labels(dns: FakeDns) -> None:
    dns.table["xn--bcher-kva.example"] = [PUBLIC_V4]
    assert check_url("https://B\u00fccher.Example/") == "https://xn--bcher-kva.example/"


def test_a_name_with_public_ipv4_and_ipv6_answers_is_accepted(dns: FakeDns) -> None:
    dns.table["dual.example.com"] = [PUBLIC_V6, PUBLIC_V4]
    assert check_url("https://dual.example.com/") == "https://dual.example.com/"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Must be a URL."),
        ("ftp://hooks.example.com/", "Must be an https:// URL."),
        ("file:///etc/passwd", "Must be an https:// URL."),
        ("gopher://hooks.example.com/", "Must be an https:// URL."),
        ("hooks.example.com/hook", "Must be an https:// URL."),
        ("//hooks.example.com/hook", "Must be an https:// URL."),
        (
            "http://hooks.example.com/",
            "Must be an https:// URL (http:// only for the allowed hosts).",
        ),
        ("https:///hook", "Must name a host."),
        ("https://user@hooks.example.com/", "Must not contain a user name or password."),
        ("https://user:pw@hooks.example.com/", "Must not contain a user name or password."),
        ("https://hooks.example.com@127.0.0.1/", "Must not contain a user name or password."),
        ("https://:@hooks.example.com/", "Must not contain a user name or password."),
        (
            "https://hooks.example.com\\@127.0.0.1/",
            "Must not contain spaces, control characters or backslashes.",
        ),
        (
            "https://hooks.example.com/a b",
            "Must not contain spaces, control characters or backslashes.",
        ),
        (
            "https://hooks.example.com/\t",
            "Must not contain spaces, control characters or backslashes.",
        ),
        (
            "https://hooks.example.com/\r\nX: y",
            "Must not contain spaces, control characters or backslashes.",
        ),
        (
            " https://hooks.example.com/",
            "Must not contain spaces, control characters or backslashes.",
        ),
        ("https://hooks.example.com:99999/", "Has an invalid port."),
        ("https://hooks.example.com:0/", "Has an invalid port."),
        ("https://hooks.example.com:http/", "Has an invalid port."),
        ("https://[::1/", "Has a malformed host."),
        ("https://::1/", "Has an invalid port."),
        ("https://[fe80::1%25eth0]/", "Must not name an IPv6 zone."),
        ("https://[fe80::1%eth0]/", "Must not name an IPv6 zone."),
        ("https://[hooks.example.com]/", "Has a malformed host."),
        ("https://%31%32%37.0.0.1/", "Has a malformed host."),
        ("https://1.2.3.4.5/", "Has a malformed IPv4 address."),
        ("https://256.1.1.1/", "Has a malformed IPv4 address."),
        ("https://1.2.3.256/", "Has a malformed IPv4 address."),
        ("https://4294967296/", "Has a malformed IPv4 address."),
        ("https://08.0.0.1/", "Has a malformed IPv4 address."),
        ("https://0x7g.0.0.1/", "Has a malformed IPv4 address."),
        ("https://example.123/", "Has a malformed IPv4 address."),
        ("https://hooks..example.com/", "Has a malformed host name."),
        ("https://hooks.example.com../", "Has a malformed host name."),
        ("https://.example.com/", "Has a malformed host name."),
        ("https://a_b.example.com/", "Has a malformed host name."),
        ("https://-a.example.com/", "Has a malformed host name."),
        ("https://" + "a" * 64 + ".example.com/", "Has a malformed host name."),
    ],
)
def test_a_malformed_url_is_refused(url: str, message: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert str(refused.value) == message


def test_a_url_of_2000_characters_is_accepted() -> None:
    url = "https://hooks.example.com/" + "a" * (2000 - len("https://hooks.example.com/"))
    assert check_url(url) == url


def test_a_url_of_2001_characters_is_refused() -> None:
    url = "https://hooks.example.com/" + "a" * (2001 - len("https://hooks.example.com/"))
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert str(refused.value) == "Must be at most 2000 characters."


def test_a_url_that_grows_past_2000_characters_when_normalised_is_refused() -> None:
    url = "https://hooks.example.com/" + "\u00e9" * 400  # each becomes %C3%A9
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert str(refused.value) == "Must be at most 2000 characters."


def test_the_refusal_is_a_value_error() -> None:
    """A marshmallow validator can turn it into the 422 naming `url` as it is."""
    assert issubclass(UnsafeUrl, ValueError)


# WEBHOOK_ALLOWED_HOSTS: named hosts may be non-public and may use http://.


@pytest.mark.parametrize(
    ("url", "allowed", "normalised"),
    [
        ("http://127.0.0.1:8080/hook", ["127.0.0.1"], "http://127.0.0.1:8080/hook"),
        ("http://2130706433:8080/hook", ["127.0.0.1"], "http://127.0.0.1:8080/hook"),
        ("http://0177.0.0.1:8080/hook", ["127.0.0.1"], "http://127.0.0.1:8080/hook"),
        ("https://127.0.0.1/hook", ["127.0.0.1"], "https://127.0.0.1/hook"),
        ("http://localhost:8080/", ["localhost"], "http://localhost:8080/"),
        ("http://localhost.:8080/", ["localhost"], "http://localhost:8080/"),
        ("http://LOCALHOST:8080/", ["Localhost."], "http://localhost:8080/"),
        ("http://[::1]:8080/", ["::1"], "http://[::1]:8080/"),
        ("http://[::1]:8080/", ["[::1]"], "http://[::1]:8080/"),
        ("http://[0::1]:8080/", ["0:0:0:0:0:0:0:1"], "http://[::1]:8080/"),
        ("https://receiver.internal/", ["receiver.internal"], "https://receiver.internal/"),
        ("http://receiver/", ["receiver"], "http://receiver/"),
        ("http://receiver/", [" receiver ", ""], "http://receiver/"),
    ],
)
def test_an_allowed_host_may_be_local_and_plain_http(
    dns: FakeDns, url: str, allowed: list[str], normalised: str
) -> None:
    assert (check_url(url, allowed), dns.queries) == (normalised, [])


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.2/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"],
)
def test_an_allowed_host_allows_no_other_host(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, ["127.0.0.1", "receiver.internal"])


def test_an_allowed_name_is_not_an_allowed_address(dns: FakeDns) -> None:
    """Allowing `receiver.internal` does not allow the private address it resolves to."""
    dns.table["receiver.internal"] = ["10.0.0.7"]
    with pytest.raises(UnsafeUrl):
        check_url("https://10.0.0.7/", ["receiver.internal"])


def test_allowed_hosts_are_normalised() -> None:
    assert normalise_allowed_hosts(
        ["127.0.0.1", "2130706433", "[::1]", "0::1", "LocalHost.", "B\u00fccher.example", "", "a b"]
    ) == frozenset({"127.0.0.1", "::1", "localhost", "xn--bcher-kva.example"})


# resolve_public: what a delivery connects to.


def test_resolve_public_returns_every_answer_in_order(dns: FakeDns) -> None:
    dns.table["dual.example.com"] = [PUBLIC_V6, PUBLIC_V4, PUBLIC_V6]
    assert resolve_public("dual.example.com", 443) == [PUBLIC_V6, PUBLIC_V4]


def test_resolve_public_refuses_one_private_answer(dns: FakeDns) -> None:
    dns.table["mixed.example.com"] = [PUBLIC_V4, "127.0.0.1"]
    with pytest.raises(UnsafeUrl) as refused:
        resolve_public("mixed.example.com", 443)
    assert str(refused.value) == "Its host name resolves to a non-public address (127.0.0.1)."


def test_resolve_public_of_a_literal_is_that_address(dns: FakeDns) -> None:
    assert (resolve_public("8.8.8.8", 443), dns.queries) == (["8.8.8.8"], [])


def test_resolve_public_refuses_a_non_public_literal() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        resolve_public("2130706433", 443)
    assert str(refused.value) == "Must not point to a non-public address (127.0.0.1)."


def test_resolve_public_returns_private_answers_of_an_allowed_host(dns: FakeDns) -> None:
    dns.table["receiver.internal"] = ["10.0.0.7", "127.0.0.1"]
    assert resolve_public("receiver.internal", 80, ["receiver.internal"]) == [
        "10.0.0.7",
        "127.0.0.1",
    ]


def test_an_allowed_host_is_looked_up_as_given(dns: FakeDns) -> None:
    """Allowed hosts may come from /etc/hosts or a search domain (compose service names)."""
    dns.table["receiver"] = ["10.0.0.7"]
    resolve_public("receiver", 80, ["receiver"])
    assert dns.queries == ["receiver"]


def test_resolve_public_refuses_a_name_that_does_not_resolve() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        resolve_public("nowhere.example.org", 443)
    assert str(refused.value) == "Its host name does not resolve."


@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("Hooks.Example.com.", "hooks.example.com"),
        ("0x7f.1", "127.0.0.1"),
        ("[::FFFF:127.0.0.1]", "::ffff:127.0.0.1"),
        ("b\u00fccher.example", "xn--bcher-kva.example"),
        ("\uff45xample.com", "example.com"),  # fullwidth letters (UTS 46 mapping)
    ],
)
def test_normalise_host(host: str, normalised: str) -> None:
    assert normalise_host(host) == normalised


# Where Python's ipaddress alone would let an address through (3.11 to 3.13): each gap is
# pinned here, so that a Python that closes it makes this test fail and the table be reviewed.

IPADDRESS_GAPS = [
    "224.0.0.1",  # multicast is "global"
    "239.255.255.250",
    "ff0e::1",
    "::127.0.0.1",  # IPv4-compatible loopback is "global"
    "64:ff9b::7f00:1",  # NAT64 of loopback is "global"
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "3fff::1",  # documentation since RFC 9637 (2024)
    "fec0::1",  # site-local
    "192.88.99.1",  # deprecated 6to4 relay anycast
]


@pytest.mark.parametrize("address", IPADDRESS_GAPS)
def test_ipaddress_calls_it_global(address: str) -> None:
    assert ipaddress.ip_address(address).is_global is True


@pytest.mark.parametrize("address", IPADDRESS_GAPS)
def test_is_public_refuses_what_ipaddress_calls_global(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is False


def test_ipaddress_cgnat_is_neither_private_nor_global() -> None:
    """100.64.0.0/10 is why `not is_private` is never the test: it is both False."""
    address = ipaddress.ip_address("100.64.0.1")
    assert (address.is_private, address.is_global) == (False, False)


def test_ipaddress_mapped_public_is_reserved() -> None:
    """::ffff:8.8.8.8 is in ::/8 (reserved): the embedded address is judged instead."""
    address = ipaddress.ip_address("::ffff:8.8.8.8")
    assert (address.is_reserved, is_public(address)) == (True, True)


def test_a_zone_id_is_never_public() -> None:
    assert is_public(ipaddress.IPv6Address("2606:2800:21f:cb07:6820:80da:af6b:8b2c%eth0")) is False


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", PUBLIC_V4, "2001:4860:4860::8888", PUBLIC_V6, "192.0.0.9"]
)
def test_is_public_accepts_a_public_address(address: str) -> None:
    assert is_public(ipaddress.ip_address(address)) is True
