"""The network guard: every outbound request of Kith passes through here.

Two checks, both mandatory:

* :func:`check_url` before a request (and before every redirect hop): http/https only,
  no credentials in the URL, a host present, and an IP-literal host in any of its odd
  spellings (``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:127.0.0.1]``) refused
  when it is not a public address.
* :class:`GuardedNetworkBackend` at connect time: the host name is resolved once, every
  address is checked, and the socket is opened to the checked address itself, so there
  is no gap between check and connect for DNS rebinding to use.

``allow_private=True`` (``KITH_ALLOW_PRIVATE_NETWORKS``) lifts the address check;
``allowed_hosts`` lifts it for named hosts only (``host`` or ``host:port``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore

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


def _default_backend() -> httpcore.AsyncNetworkBackend:
    return httpcore.AnyIOBackend()


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, then connects to the checked IP.

    TLS still verifies the certificate against the host name: httpcore passes the
    origin's host as ``server_hostname`` when it starts TLS on the returned stream.
    """

    def __init__(
        self, policy: GuardPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner or _default_backend()

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = parse_ip_literal(host)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        seen: list[IPAddress] = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if addr not in seen:
                seen.append(addr)
        return seen

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        for ip in addresses:  # every address must pass: no mixing in a private one
            check_address(ip, host, port, self._policy)
        last_exc: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last_exc = exc
        if last_exc is not None:
            raise last_exc
        raise httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationNotAllowed("unix sockets are not allowed", url=path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
