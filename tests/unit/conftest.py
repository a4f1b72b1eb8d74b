# The X-Ray SDK (loaded by Powertools' tracer when a handler module is imported) opens its UDP emitter's
# socket when it is first imported; it sends nothing, but the unit tests refuse sockets. Loaded here, before
# they do, so that no unit test depends on another having imported it first.
import aws_xray_sdk.core  # noqa: F401
import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    """Unit tests run with network sockets disabled: anything reaching for the network fails.
    Unix sockets stay allowed: asyncio's event loop wakes itself through a socketpair."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
