"""Client secrets at rest: an MCP server's credentials and a webhook's URL are sealed before anything is
stored and opened only where they are used (the worker, the webhook sender).

Envelope encryption: each sealing asks the key service for a fresh data key bound to an encryption context
(the tenant, and the task for MCP credentials), encrypts each value with AES-256-GCM under it (the context is
the additional data), and keeps the wrapped data key beside the ciphertext. Opening needs the key service to
unwrap that key for the same context: a sealed value copied to another tenant's or task's request opens for
nobody, and the functions that only submit may seal but not open."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

# cryptography is imported by the first key made or opened: most functions import this module and never seal.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed:v1:"
_NONCE_BYTES = 12
_CACHED_KEYS = 128


class SealingFailed(Exception):
    """A sealed value that cannot be opened: tampered with, or sealed for another context."""


class DataKeys(Protocol):
    """Wraps data keys under a key the service holds (AWS KMS in a deployment and in the local stack)."""

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, bytes]:
        """A fresh 256-bit data key: (plaintext, wrapped under the key for this context)."""
        ...

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        """The plaintext of a wrapped data key; SealingFailed when it was not wrapped for this context."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


class Sealer:
    """Seals and opens with data keys from `keys`. A data key is reused for the same context for a minute
    (so sealing a batch's 10,000 lines, all under the batch's context, takes one key-service call), and an
    unwrapped key is kept as long: the caching the AWS Encryption SDK offers, in a few lines."""

    def __init__(self, keys: DataKeys, reuse_seconds: float = 60, clock: Any = time.monotonic) -> None:
        self.keys = keys
        self.reuse_seconds = reuse_seconds
        self.clock = clock
        self._sealing: OrderedDict[bytes, tuple[float, AESGCM, str]] = OrderedDict()
        self._opening: OrderedDict[str, tuple[float, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()

    def _remember(self, cache: OrderedDict, key: Any, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHED_KEYS:
            cache.popitem(last=False)

    def _fresh(self, cache: OrderedDict, key: Any) -> Any:
        with self._lock:
            found = cache.get(key)
            return found if found is not None and self.clock() - found[0] < self.reuse_seconds else None

    def _sealing_key(self, context: Mapping[str, str]) -> tuple[AESGCM, str]:
        aad = _aad(context)
        if found := self._fresh(self._sealing, aad):
            return found[1], found[2]
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key, wrapped = self.keys.generate(context)
        entry = (self.clock(), AESGCM(key), _b64(wrapped))
        with self._lock:
            self._remember(self._sealing, aad, entry)
        return entry[1], entry[2]

    def _opening_key(self, wrapped: str, context: Mapping[str, str]) -> AESGCM:
        cache_key = wrapped + "|" + _aad(context).decode()
        if found := self._fresh(self._opening, cache_key):
            return found[1]
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aes = AESGCM(self.keys.unwrap(_unb64(wrapped), context))
        with self._lock:
            self._remember(self._opening, cache_key, (self.clock(), aes))
        return aes

    def seal(self, values: Sequence[str], context: Mapping[str, str]) -> list[str]:
        """Each value sealed for this context (no key-service call for no values)."""
        if not values:
            return []
        aes, wrapped = self._sealing_key(context)
        aad, head = _aad(context), PREFIX + wrapped + "."
        sealed = []
        for value in values:
            nonce = os.urandom(_NONCE_BYTES)
            sealed.append(head + _b64(nonce + aes.encrypt(nonce, value.encode(), aad)))
        return sealed

    def open(self, values: Sequence[str], context: Mapping[str, str]) -> list[str]:
        """The plaintexts. A value that is not sealed (stored before sealing existed) is returned as it is:
        every value a client sends is sealed before it is stored."""
        from cryptography.exceptions import InvalidTag

        aad = _aad(context)
        opened = []
        for value in values:
            if not is_sealed(value):
                opened.append(value)
                continue
            wrapped, _, body = value[len(PREFIX) :].partition(".")
            try:
                raw = _unb64(body)
                aes = self._opening_key(wrapped, context)
                opened.append(aes.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad).decode())
            except (InvalidTag, ValueError) as exc:
                raise SealingFailed(f"a sealed value does not open: {type(exc).__name__}") from None
        return opened


def mcp_context(tenant: str, owner: str) -> dict[str, str]:
    """MCP credentials are sealed for their tenant and owner: the task, or the batch a batch item is of."""
    return {"tenant": tenant, "owner": owner, "use": "mcp"}


def webhook_context(tenant: str) -> dict[str, str]:
    return {"tenant": tenant, "use": "webhook"}


def _mcp_slots(request: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(container, key) of every secret in a chat request: each server's authorization and header values."""
    for server in request.get("mcp_servers") or []:
        if not isinstance(server, dict):
            continue
        if isinstance(server.get("authorization"), str):
            yield server, "authorization"
        headers = server.get("headers")
        if isinstance(headers, dict):
            for name, value in headers.items():
                if isinstance(value, str):
                    yield headers, name


def _replace(sealer_call: Any, request: dict[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    slots = list(_mcp_slots(request))
    if not slots:
        return request
    copy = deepcopy(request)
    slots = list(_mcp_slots(copy))
    for (container, key), value in zip(slots, sealer_call([c[k] for c, k in slots], context), strict=True):
        container[key] = value
    return copy


def seal_mcp_secrets(sealer: Sealer, request: dict[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a chat request whose MCP credentials are sealed (the request itself when it has none)."""
    return _replace(sealer.seal, request, context)


def open_mcp_secrets(sealer: Sealer, request: dict[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    return _replace(sealer.open, request, context)


def _body(change: Callable[..., list[str]], body: dict[str, Any], tenant: str, owner: str) -> dict[str, Any]:
    changed = _replace(change, body, mcp_context(tenant, owner))
    webhook = changed.get("webhook")
    if isinstance(webhook, dict) and isinstance(webhook.get("url"), str):
        url = change([webhook["url"]], webhook_context(tenant))[0]
        changed = {**changed, "webhook": {**webhook, "url": url}}
    return changed


def seal_body(sealer: Sealer, body: dict[str, Any], tenant: str, owner: str) -> dict[str, Any]:
    """A submit body (a batch line's) with its MCP credentials and its webhook URL sealed."""
    return _body(sealer.seal, body, tenant, owner)


def open_body(sealer: Sealer, body: dict[str, Any], tenant: str, owner: str) -> dict[str, Any]:
    return _body(sealer.open, body, tenant, owner)


def shown_url(url: str) -> str:
    """How a stored webhook URL is shown: its origin only, since its path or query often is the credential
    (`https://hooks.example.com/services/T0/B0/XXXX`)."""
    parts = urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{rest}"
