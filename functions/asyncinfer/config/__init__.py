"""One settings model per function, read from ASYNCINFER_* variables and validated at cold start.

Resource names have no defaults: a function deployed without them fails loudly instead of
writing to a table that happens to share a default name.

Each model is in the module of the functions that read it, imported by the first use of its name here: a
function's cold start defines its own model and the parts it extends, not every function's (pydantic
collects each class's fields as it is defined: ~0.3 ms a class, ~1 ms for the largest).
"""

from __future__ import annotations

import importlib
from typing import Any

# Every name, in the order the configuration reference lists the models (docs/hooks/generated.py).
_MODULES = {
    "ENV_PREFIX": "base",
    "EnvSettings": "base",
    "DocsSettings": "base",
    "_Settings": "base",
    "OutboundSettings": "parts",
    "SealingSettings": "parts",
    "RunnerLinkSettings": "parts",
    "StandInSettings": "parts",
    "PrunerSettings": "base",
    "AuthorizerSettings": "base",
    "DeadLetterSettings": "base",
    "LaneSettings": "parts",
    "EscalationSettings": "parts",
    "SweeperSettings": "sweeper",
    "ApiSettings": "api",
    "WorkerSettings": "workers",
    "RunnerSettings": "workers",
    "StreamSettings": "base",
    "BatchSettings": "api",
    "WebhookApiSettings": "webhooks",
    "NotifierSettings": "webhooks",
    "WEBHOOK_SENDER_BATCH_SIZE": "webhook_sender",
    "WebhookSenderSettings": "webhook_sender",
}
__all__ = list(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
