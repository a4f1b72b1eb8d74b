"""Sealing client secrets: envelope encryption bound to its context, with a key service faked in memory."""

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from asyncinfer.domain.sealing import (
    Sealer,
    SealingFailed,
    _aad,
    mcp_context,
    open_body,
    seal_body,
    shown_url,
    webhook_context,
)


class FakeKeys:
    """Wraps data keys with AES-GCM under one master key, the context as additional data (as KMS does)."""

    def __init__(self):
        self.master = AESGCM(AESGCM.generate_key(bit_length=256))
        self.generated = self.unwrapped = 0

    def generate(self, context):
        self.generated += 1
        key, nonce = os.urandom(32), os.urandom(12)
        return key, nonce + self.master.encrypt(nonce, key, _aad(context))

    def unwrap(self, wrapped, context):
        self.unwrapped += 1
        try:
            return self.master.decrypt(wrapped[:12], wrapped[12:], _aad(context))
        except Exception:
            raise SealingFailed("not for this context") from None


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_values_open_again_only_for_the_context_they_were_sealed_for():
    sealer = Sealer(FakeKeys())
    context = mcp_context("acme", "task1")
    sealed = sealer.seal(["Bearer abc", "héllo"], context)
    assert all(s.startswith("sealed:v1:") and "abc" not in s for s in sealed)
    assert Sealer(sealer.keys).open(sealed, context) == ["Bearer abc", "héllo"]
    for other in (mcp_context("other", "task1"), mcp_context("acme", "task2"), webhook_context("acme")):
        with pytest.raises(SealingFailed):
            Sealer(sealer.keys).open(sealed, other)


def test_a_tampered_value_does_not_open():
    sealer = Sealer(FakeKeys())
    context = webhook_context("acme")
    (sealed,) = sealer.seal(["https://h.example.com/x"], context)
    head, _, body = sealed.rpartition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SealingFailed):
        sealer.open([f"{head}.{flipped}"], context)


def test_one_data_key_serves_a_context_for_a_minute_and_values_never_sealed_pass_through():
    keys, clock = FakeKeys(), Clock()
    sealer = Sealer(keys, reuse_seconds=60, clock=clock)
    context = mcp_context("acme", "batch1")
    many = [sealer.seal([f"token-{i}"], context)[0] for i in range(1000)]
    assert keys.generated == 1
    assert sealer.open(many, context) == [f"token-{i}" for i in range(1000)] and keys.unwrapped == 1
    clock.now = 61
    sealer.seal(["later"], context)
    assert keys.generated == 2
    assert sealer.seal([], context) == [] and keys.generated == 2
    assert sealer.open(["stored before sealing existed"], context) == ["stored before sealing existed"]


def test_a_body_has_its_mcp_credentials_and_webhook_url_sealed_and_nothing_else():
    sealer = Sealer(FakeKeys())
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "token-in-prompt"}],
        "mcp_servers": [
            {"url": "https://mcp.example.com", "authorization": "tok", "headers": {"X-Key": "hdr"}},
            {"url": "https://other.example.com"},
        ],
        "webhook": {"url": "https://h.example.com/secret-path", "events": ["task.completed"]},
    }
    sealed = seal_body(sealer, body, "acme", "batch1")
    assert sealed["messages"] == body["messages"] and sealed["model"] == "m"
    server = sealed["mcp_servers"][0]
    assert server["url"] == "https://mcp.example.com" and list(server["headers"]) == ["X-Key"]
    assert all(v.startswith("sealed:v1:") for v in (server["authorization"], server["headers"]["X-Key"]))
    assert sealed["webhook"]["url"].startswith("sealed:v1:") and sealed["webhook"]["events"] == ["task.completed"]
    assert body["mcp_servers"][0]["authorization"] == "tok"  # the caller's body is left alone
    assert open_body(sealer, sealed, "acme", "batch1") == body
    with pytest.raises(SealingFailed):
        open_body(sealer, sealed, "acme", "batch2")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T0/B0/XXXX", "https://hooks.example.com/…"),
        ("https://h.example.com?token=abc", "https://h.example.com/…"),
        ("https://user:pw@h.example.com:8443/", "https://h.example.com:8443"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ],
)
def test_a_webhook_url_is_shown_by_its_origin(url, shown):
    assert shown_url(url) == shown
