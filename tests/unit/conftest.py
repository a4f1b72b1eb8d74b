import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled):
    """Unit tests run with sockets disabled: anything reaching for the network fails."""
    yield
