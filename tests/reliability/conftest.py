"""The emulator as a real server (concurrent HTTP requests, as AWS would see them)."""

from __future__ import annotations

import pytest

from infra.local.emulator import Emulator


@pytest.fixture(scope="module")
def emulator(monkeypatch_module):
    running = Emulator()
    running.start()
    resources = running.create_resources(prefix="reliability")
    for name, value in resources.env().items():
        monkeypatch_module.setenv(name, value)
    yield running, resources
    running.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


# The emulator in process, as the integration tests have it (tests/reliability/test_durable_faults.py).
from tests.integration.conftest import aws  # noqa: E402, F401
