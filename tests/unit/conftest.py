import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    """Unit tests run with network sockets disabled: anything reaching for the network fails.
    Unix sockets stay allowed: asyncio's event loop wakes itself through a socketpair."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
