"""Provider credentials by reference: an environment variable first (local, or an override), else a
Secrets Manager secret, read through Powertools' cached parameter store client."""

from __future__ import annotations

import json
import os

from asyncinfer.domain.catalog import SecretRef
from asyncinfer.providers.base import ProviderError

CACHE_SECONDS = 300


def resolve(ref: SecretRef) -> str | None:
    if ref.env and os.environ.get(ref.env):
        return os.environ[ref.env]
    if not ref.secret_arn:
        return None
    from aws_lambda_powertools.utilities.parameters import get_secret

    try:
        value = get_secret(ref.secret_arn, max_age=CACHE_SECONDS)
    except Exception as exc:
        # A missing secret or a missing permission does not heal by retrying; anything else may.
        permanent = any(code in str(exc) for code in ("AccessDenied", "ResourceNotFound", "DecryptionFailure"))
        raise ProviderError(
            "provider_misconfigured" if permanent else "provider_unreachable",
            f"Cannot read the provider secret: {exc}",
            retryable=not permanent,
        ) from exc
    if isinstance(value, bytes):
        value = value.decode()
    if ref.json_key:
        try:
            return str(json.loads(value)[ref.json_key])
        except (ValueError, KeyError, TypeError):
            raise ProviderError(
                "provider_misconfigured", f"The provider secret has no JSON key {ref.json_key!r}", retryable=False
            ) from None
    return value
