"""The network guard refuses every private destination, however it is spelled."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from ingest.errors import DestinationNotAllowed, InvalidURL
from ingest.guard import (
    GuardedResolver,
    GuardPolicy,
    check_url,
    is_public_ip,
    parse_ip_literal,
)
from tests.helpers import StubResolver

CLOSED = GuardPolicy()

PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0/",
    "http://[::]/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://224.0.0.1/",
    "http://localhost/",
    "http://foo.localhost/",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_destinations_are_refused(url: str) -> None:
    with pytest.raises(DestinationNotAllowed) as info:
        check_url(url, CLOSED)
    assert info.value.code == "destination_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "data:text/plain,hi",
        "javascript:alert(1)",
        "ftp://example.org/",
        "gopher://example.org/",
        "/etc/passwd",
        "example.org/feed",
    ],
)
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(DestinationNotAllowed, match="scheme"):
        check_url(url, CLOSED)


def test_credentials_in_url_are_refused() -> None:
    with pytest.raises(DestinationNotAllowed, match="credentials"):
        check_url("https://user:pw@example.org/feed", CLOSED)


@pytest.mark.parametrize(
    "url", ["", "   ", "http://", "http://exa mple.org:99999/", "http://a\nb/"]
)
def test_malformed_urls_get_invalid_url(url: str) -> None:
    with pytest.raises(InvalidURL):
        check_url(url, CLOSED)


def test_public_urls_pass() -> None:
    assert check_url("https://example.org/feed.xml", CLOSED).hostname == "example.org"
    assert check_url("http://93.184.215.14/rss", CLOSED).hostname == "93.184.215.14"


def test_allow_private_and_allow_list_lift_the_check() -> None:
    check_url("http://127.0.0.1:8080/", GuardPolicy(allow_private=True))
    only = GuardPolicy(allowed_hosts=frozenset({"127.0.0.1:8080"}))
    check_url("http://127.0.0.1:8080/", only)
    with pytest.raises(DestinationNotAllowed):
        check_url("http://127.0.0.1:8081/", only)


def test_odd_literals_parse_to_the_address_a_resolver_would_use() -> None:
    assert parse_ip_literal("127.1") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip_literal("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip_literal("0x7f000001") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip_literal("example.org") is None
    assert parse_ip_literal("1e100.net") is None


def test_public_ip_classification() -> None:
    assert is_public_ip(ipaddress.ip_address("8.8.8.8"))
    assert is_public_ip(ipaddress.ip_address("2606:4700::1111"))
    assert not is_public_ip(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert not is_public_ip(ipaddress.ip_address("100.100.100.100"))


def test_resolver_refuses_a_name_that_resolves_to_loopback() -> None:
    """check_url lets a host name through; the resolver checks what it resolves to."""
    resolver = GuardedResolver(CLOSED)

    async def resolve() -> None:
        try:
            await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    with pytest.raises(DestinationNotAllowed):
        asyncio.run(resolve())


def test_resolver_refuses_if_any_address_is_private() -> None:
    resolver = GuardedResolver(
        CLOSED, StubResolver({"mixed.example": ["93.184.215.14", "10.0.0.7"]})
    )
    with pytest.raises(DestinationNotAllowed):
        asyncio.run(resolver.resolve("mixed.example", 80))


def test_resolver_passes_public_addresses_through() -> None:
    resolver = GuardedResolver(CLOSED, StubResolver({"pub.example": ["93.184.215.14"]}))
    (result,) = asyncio.run(resolver.resolve("pub.example", 443))
    assert result["host"] == "93.184.215.14" and result["hostname"] == "pub.example"


def test_odd_literal_reaching_the_resolver_is_checked() -> None:
    resolver = GuardedResolver(CLOSED)
    with pytest.raises(DestinationNotAllowed):
        asyncio.run(resolver.resolve("0x7f000001", 80))
