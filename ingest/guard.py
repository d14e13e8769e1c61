"""The network guard: every outbound request of Kith passes through here.

Two checks, both mandatory:

* :func:`check_url` before a request (and before every redirect hop): http/https only,
  no credentials in the URL, a host present, and an IP-literal host in any of its odd
  spellings (``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:127.0.0.1]``) refused
  when it is not a public address.
* :class:`GuardedResolver` at connect time: the host name is resolved once, every
  address is checked, and aiohttp opens the socket to the checked address itself, so
  there is no gap between check and connect for DNS rebinding to use.

``allow_private=True`` (``KITH_ALLOW_PRIVATE_NETWORKS``) lifts the address check;
``allowed_hosts`` lifts it for named hosts only (``host`` or ``host:port``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from ingest.errors import DestinationNotAllowed, InvalidURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What the guard lets through. Plain parameters, never the settings object."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()

    def host_allowed(self, host: str, port: int | None) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address an IP-literal host means, in any spelling a resolver accepts.

    ``socket.inet_aton`` is what C resolvers use, so ``127.1``, ``2130706433``,
    ``0x7f000001`` and ``0177.0.0.1`` all come back as 127.0.0.1 here, as they would
    when connecting. A host name returns None.
    """
    h = host.strip("[]")
    if "%" in h:  # an IPv6 zone id: never a public destination
        h = h.split("%", 1)[0]
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if h and all(c in "0123456789abcdefxABCDEFX." for c in h) and h[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def is_public_ip(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (embedded IPv4 checked too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        for embedded in (ip.ipv4_mapped, ip.sixtofour):
            if embedded is not None and not is_public_ip(embedded):
                return False
        if ip.teredo is not None and not all(is_public_ip(a) for a in ip.teredo):
            return False
        # NAT64 well-known prefix: judge the IPv4 address it carries
        if ip in ipaddress.IPv6Network("64:ff9b::/96"):
            return is_public_ip(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return bool(ip.is_global) and not ip.is_multicast and not ip.is_unspecified


def check_address(ip: IPAddress, host: str, port: int | None, policy: GuardPolicy) -> None:
    """Raise :class:`DestinationNotAllowed` unless ``ip`` may be connected to."""
    if policy.allow_private or policy.host_allowed(host, port) or is_public_ip(ip):
        return
    verb = "means" if parse_ip_literal(host) is not None else "resolves to"
    raise DestinationNotAllowed(f"{host} {verb} {ip}, which is not a public address", url=host)


def check_url(url: str, policy: GuardPolicy) -> SplitResult:
    """Validate a URL before any request is made; returns its parts.

    Raises :class:`InvalidURL` for malformed input and :class:`DestinationNotAllowed`
    for a scheme, credentials or IP literal the guard refuses.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidURL("the URL is empty", url=url)
    url = url.strip()
    if any(c in url for c in "\r\n\t\x00"):
        raise InvalidURL("the URL contains control characters", url=url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "none"
        raise DestinationNotAllowed(
            f"scheme {shown!r} is not allowed; only http and https are", url=url
        )
    if parts.username is not None or parts.password is not None:
        raise DestinationNotAllowed("credentials in the URL are not allowed", url=url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidURL("the URL has no host", url=url)
    ip = parse_ip_literal(host)
    if ip is not None:
        check_address(ip, host, port, policy)
    elif (host == "localhost" or host.endswith(".localhost")) and not (
        policy.allow_private or policy.host_allowed(host, port)
    ):
        raise DestinationNotAllowed("localhost is not a public address", url=url)
    return parts


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that checks every address it hands back.

    aiohttp connects to exactly the addresses its resolver returns (and caches only
    those), so the address checked here is the address connected to: no gap between
    check and connect for DNS rebinding to use. TLS still verifies the host name.
    aiohttp does not consult the resolver for a well-formed IP literal; those are
    checked by :func:`check_url`, which runs before every request and redirect hop.
    """

    def __init__(self, policy: GuardPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner  # the system resolver is made on first use, inside the loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = parse_ip_literal(host)
        if literal is not None:  # odd spellings (127.1, 0x7f000001) reach us, not aiohttp's
            check_address(literal, host, port, self._policy)
            return [
                ResolveResult(
                    hostname=host,
                    host=str(literal),
                    port=port,
                    family=socket.AF_INET6 if literal.version == 6 else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        if self._inner is None:
            self._inner = ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        for result in results:  # every address must pass: no mixing in a private one
            ip = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            check_address(ip, host, port, self._policy)
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
