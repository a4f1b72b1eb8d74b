"""Webhook deliveries, verified: asyncinfer signs them per the Standard Webhooks spec."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook


def unwrap(body: bytes | str, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The event of a delivery whose signature holds (webhook-id, webhook-timestamp within five minutes,
    webhook-signature with `secret`); standardwebhooks' WebhookVerificationError otherwise."""
    payload = body.decode() if isinstance(body, bytes) else body
    verified = Webhook(secret).verify(payload, {k.lower(): v for k, v in headers.items()})
    return verified if isinstance(verified, dict) else json.loads(payload)
