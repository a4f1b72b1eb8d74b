"""The local stack's environment defaults. Applied before anything imports the handlers' modules:
Powertools reads its log level and metrics switch when its objects are created, at import."""

from __future__ import annotations

import os

# Quiet, readable defaults for a laptop; any of them can be overridden from the environment.
LOCAL_DEFAULTS = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "ASYNCINFER_DEMO_CHAT_SECONDS": "3",
    # MCP servers on this laptop (127.0.0.1, the LAN) are fine here; on AWS they are refused by default.
    "ASYNCINFER_MCP_ALLOW_PRIVATE": "true",
    # ... and so are webhook receivers; a failed attempt comes back within seconds, not minutes.
    "ASYNCINFER_WEBHOOK_ALLOW_PRIVATE": "true",
    "ASYNCINFER_WEBHOOK_RETRY_BASE_SECONDS": "1",
    "ASYNCINFER_WEBHOOK_RETRY_MAX_SECONDS": "30",
    # The sweeper re-sends tasks left CREATED this long (as the deployed schedule does, only sooner).
    "ASYNCINFER_ORPHAN_AFTER_SECONDS": "60",
}


def apply() -> None:
    for name, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
