"""Where the service may connect on a client's behalf (MCP servers, webhook receivers): http(s) only; link-local,
metadata, unspecified and multicast addresses never; any other address that is not globally routable (loopback, private,
shared, reserved) only where the deployment allows it (the local stack), or for hosts and CIDRs it allow-lists.

An address is judged by every IPv4 address it carries: IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (SIIT,
::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), 6to4 (2002::/16), NAT64 (64:ff9b::/96) and Teredo forms are judged by
the IPv4 address the packets would reach. A host is a literal address in every spelling a resolver accepts (decimal,
octal, hexadecimal and short IPv4 forms, zone ids), so a literal cannot pass as a name."""

from __future__ import annotations

import ipaddress
import re
import socket  # inet_aton only: the resolver's own reading of IPv4 spellings, no I/O
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

from asyncinfer.domain.errors import InvalidRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NEVER = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"), ipaddress.ip_network("0.0.0.0/8"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
SIIT = ipaddress.ip_network("::ffff:0:0:0/96")  # IPv4-translated addresses (SIIT, RFC 2765)
# inet_aton's spellings: dotted parts in decimal, octal (0177) or hexadecimal (0x7f), one to four of them.
_IPV4_SPELLING = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)

Resolver = Callable[[str], Iterable[str]]


class RefusedUrl(InvalidRequest):
    code = "url_refused"


class Reach(Enum):
    PUBLIC = "public"
    PRIVATE = "private"  # loopback, private, shared, reserved: only where allowed
    NEVER = "never"  # link-local, metadata, unspecified, multicast


@dataclass(frozen=True)
class OutboundPolicy:
    """A deployment's rule for one kind of outbound connection (MCP servers, webhooks)."""

    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()


def literal_address(host: str) -> Address | None:
    """The address `host` spells, in any form a resolver would read as a literal; None for a name."""
    host = host.split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_SPELLING.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def carried(ip: Address) -> list[Address]:
    """The addresses traffic to `ip` reaches: itself, or the IPv4 addresses an IPv6 form embeds."""
    if ip.version == 4:
        return [ip]
    embedded: list[Address] = []
    if ip.ipv4_mapped:
        embedded.append(ip.ipv4_mapped)
    if ip.sixtofour:
        embedded.append(ip.sixtofour)
    if ip.teredo:
        embedded.extend(ip.teredo)
    if ip in NAT64 or ip in SIIT or (ip.packed[:12] == bytes(12) and int(ip) > 1):  # or IPv4-compatible
        embedded.append(ipaddress.IPv4Address(ip.packed[12:]))
    return embedded or [ip]


def _reach_of(ip: Address) -> Reach:
    if (
        ip in METADATA_ADDRESSES
        or any(ip in net for net in NEVER)
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
    ):
        return Reach.NEVER
    return Reach.PRIVATE if ip in LOCAL_NAT64 or not ip.is_global else Reach.PUBLIC


def reach(ip: Address) -> Reach:
    """How far `ip` is from the public internet, judged by every address it carries. An IPv6 form that
    embeds IPv4 is judged by the IPv4 (its own ranges say nothing of where packets go), unless the form
    itself is never to be reached."""
    targets = carried(ip)
    found = {_reach_of(a) for a in targets}
    if targets != [ip] and _reach_of(ip) == Reach.NEVER:
        found.add(Reach.NEVER)
    for verdict in (Reach.NEVER, Reach.PRIVATE):
        if verdict in found:
            return verdict
    return Reach.PUBLIC


def check_address(address: str | Address, policy: OutboundPolicy) -> None:
    """RefusedUrl unless `policy` lets the service connect to `address`."""
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
    verdict = reach(ip)
    if verdict == Reach.NEVER:
        raise RefusedUrl(f"{address} is a link-local or metadata address (or unspecified, or multicast); refused")
    if verdict == Reach.PRIVATE and not policy.allow_private:
        networks = _networks(policy.allowed_hosts)
        if not all(any(target in net for net in networks) for target in carried(ip)):
            raise RefusedUrl(
                f"{address} is a private address (not publicly routable); refused (allow-list it in the deployment)"
            )


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name, matched by name in checked_addresses
    return networks


def _no_dns(host: str) -> list[str]:
    raise RefusedUrl(f"{host} would need DNS here")


def _host(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("Only http and https URLs are allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise RefusedUrl("The URL has no host")
    if host in METADATA_HOSTS:
        raise RefusedUrl(f"{host} is a cloud metadata host; refused")
    return host


def _is_loopback_name(host: str) -> bool:
    # RFC 6761: localhost and every name under it are loopback, whatever DNS says.
    return host == "localhost" or host.endswith(".localhost")


def checked_addresses(url: str, policy: OutboundPolicy, resolver: Resolver) -> list[str]:
    """Every address `url`'s host stands for, each allowed by `policy`; RefusedUrl otherwise. Names are
    resolved by `resolver` (the system's, asyncinfer.tools.guarded_http.system_resolver, when connecting)."""
    host = _host(url)
    if host in {h.lower().rstrip(".") for h in policy.allowed_hosts}:
        policy = OutboundPolicy(allow_private=True)  # trusted by name: still never link-local or metadata
    literal = literal_address(host)
    if literal is not None:
        addresses = [str(literal)]
    elif _is_loopback_name(host):
        addresses = ["127.0.0.1"]
    else:
        try:
            addresses = list(resolver(host))
        except OSError as exc:
            raise RefusedUrl(f"Cannot resolve {host}: {exc}") from None
    if not addresses:
        raise RefusedUrl(f"{host} resolves to nothing")
    for address in addresses:
        check_address(address, policy)
    return addresses


def check_url(url: str, policy: OutboundPolicy, resolver: Resolver) -> str:
    """The URL if the service may connect to it now (with DNS); RefusedUrl otherwise."""
    checked_addresses(url, policy, resolver)
    return url


def check_literal(url: str, policy: OutboundPolicy) -> None:
    """At submit, without DNS: the scheme, metadata names, and a host that is an address in any spelling
    (or localhost) must be one `policy` allows. Names are checked again, with DNS, at every connection."""
    host = _host(url)
    if literal_address(host) is not None or _is_loopback_name(host):
        checked_addresses(url, policy, _no_dns)


@dataclass(frozen=True)
class Pinned:
    """Where to connect: the URL with its host replaced by a checked address, and the Host header and
    TLS server name of the original, so a second DNS answer (rebinding) cannot send it elsewhere."""

    url: str
    host_header: str
    server_name: str | None
    address: str
    host: str = ""  # the URL's host name, which `address` stands for
    original: str = ""  # the URL as the client gave it


def pin(url: str, policy: OutboundPolicy, resolver: Resolver) -> Pinned:
    address = checked_addresses(url, policy, resolver)[0]
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host = parts.hostname or ""
    header = f"[{host}]" if ":" in host else host
    if parts.port:
        header += f":{parts.port}"
    return Pinned(pinned, header, host if parts.scheme == "https" else None, address, host, url)


STRICT = OutboundPolicy()


@dataclass(frozen=True)
class Outbound:
    """The deployment's policies for the two kinds of URL a client may name."""

    mcp: OutboundPolicy = STRICT
    webhooks: OutboundPolicy = STRICT


DEFAULT_OUTBOUND = Outbound()
