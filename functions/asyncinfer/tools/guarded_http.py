"""HTTP for connections made on a client's behalf (MCP servers): TCP goes only to the address checked for
each host, so a second DNS answer (rebinding) cannot send it elsewhere, and no response body may exceed a
byte cap: bodies are read as a stream and cut, never held whole first."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterable, Mapping

import httpcore2
import httpx2


def system_resolver(host: str) -> list[str]:
    """The addresses the system's resolver gives for a host name: what the outbound rules then judge."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})


class ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the response exceeded {limit} bytes")
        self.limit = limit


def _bare(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")


class PinnedBackend(httpcore2.AnyIOBackend):
    """Connects a host name only to the address checked for it; any other host is refused."""

    def __init__(self, pins: Mapping[str, str]) -> None:
        self._pins = {_bare(host): address for host, address in pins.items()}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        address = self._pins.get(_bare(host))
        if address is None:
            raise httpcore2.ConnectError(f"{host} is not the checked host of this connection; refused")
        return await super().connect_tcp(address, port, timeout, local_address, socket_options)


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, transport: GuardedTransport) -> None:
        self._inner = inner
        self._transport = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._transport.max_response_bytes:
                self._transport.exceeded = True
                raise ResponseTooLarge(self._transport.max_response_bytes)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """`pins` maps each host name a client may reach to its checked address. TLS still verifies the
    certificate against the host name: only the TCP connection goes to the pinned address."""

    def __init__(self, pins: Mapping[str, str], max_response_bytes: int) -> None:
        super().__init__(trust_env=False)
        # The one pool this transport uses, with the network backend that pins addresses.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False), network_backend=PinnedBackend(pins)
        )
        self.max_response_bytes = max_response_bytes
        self.exceeded = False  # a response went over the cap: the server misbehaved
        # The last request that failed to reach the server: an SDK that cancels its own scope on it (the MCP
        # streamable HTTP client) leaves only a CancelledError to its caller.
        self.failure: Exception | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx2.TransportError as exc:
            self.failure = exc
            raise
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            await response.aclose()
            self.exceeded = True
            raise ResponseTooLarge(self.max_response_bytes)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self),
            extensions=response.extensions,
        )
