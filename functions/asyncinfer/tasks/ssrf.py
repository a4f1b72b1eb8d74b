"""Where the worker may connect on a client's behalf (MCP servers): http(s) only; link-local and cloud
metadata addresses never; private, loopback and shared ranges only where allowed (dev), or for
hosts the deployment allow-lists."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from asyncinfer.tasks.errors import InvalidRequest

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NEVER = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"), ipaddress.ip_network("0.0.0.0/8"))
PRIVATE = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("fc00::/7"),
)

Resolver = Callable[[str], Iterable[str]]


class RefusedUrl(InvalidRequest):
    code = "url_refused"


def _resolve(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


def check_address(address: str, *, allow_private: bool, allowed: Iterable[str] = ()) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip in METADATA_ADDRESSES or any(ip in net for net in NEVER) or ip.is_multicast or ip.is_unspecified:
        raise RefusedUrl(f"{address} is a link-local or metadata address; refused")
    private = any(ip in net for net in PRIVATE)
    if private and not allow_private and not any(ip in net for net in _networks(allowed)):
        raise RefusedUrl(f"{address} is a private address; refused (allow-list it in the deployment)")


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name, matched by name in check_url
    return networks


def check_url(
    url: str,
    *,
    allow_private: bool,
    allowed_hosts: Iterable[str] = (),
    resolver: Resolver | None = None,
) -> str:
    """The URL if the worker may connect to it; RefusedUrl otherwise. `allowed_hosts` holds host names
    or CIDRs a deployment trusts even when private (never link-local or metadata)."""
    checked_addresses(url, allow_private=allow_private, allowed_hosts=allowed_hosts, resolver=resolver)
    return url


@dataclass(frozen=True)
class Pinned:
    """Where to connect: the URL with its host replaced by a checked address, and the Host header and
    TLS server name of the original, so a second DNS answer (rebinding) cannot send it elsewhere."""

    url: str
    host_header: str
    server_name: str | None


def pin(
    url: str, *, allow_private: bool, allowed_hosts: Iterable[str] = (), resolver: Resolver | None = None
) -> Pinned:
    addresses = checked_addresses(url, allow_private=allow_private, allowed_hosts=allowed_hosts, resolver=resolver)
    parts = urlsplit(url)
    address = addresses[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host = parts.hostname or ""
    header = f"[{host}]" if ":" in host else host
    if parts.port:
        header += f":{parts.port}"
    return Pinned(pinned, header, host if parts.scheme == "https" else None)


def checked_addresses(
    url: str,
    *,
    allow_private: bool,
    allowed_hosts: Iterable[str] = (),
    resolver: Resolver | None = None,
) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("Only http and https URLs are allowed")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise RefusedUrl("The URL has no host")
    if host in METADATA_HOSTS:
        raise RefusedUrl(f"{host} is a cloud metadata host; refused")
    allowed = list(allowed_hosts)
    host_allowed = host in {h.lower() for h in allowed}
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list((resolver or _resolve)(host))
        except OSError as exc:
            raise RefusedUrl(f"Cannot resolve {host}: {exc}") from None
    if not addresses:
        raise RefusedUrl(f"{host} resolves to nothing")
    for address in addresses:
        check_address(address, allow_private=allow_private or host_allowed, allowed=allowed)
    return addresses


def check_literal(url: str) -> None:
    """At submit, without DNS: the scheme, and no literal link-local or metadata address."""
    check_url(url, allow_private=True, resolver=lambda host: ["203.0.113.1"])
