"""The offline research tool of the demo deep-research model: a 'search' that answers after a pause."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from asyncinfer.tools.base import ToolOutcome

SEARCH_TOOL = "research__search"


class DemoResearchTools:
    """The research tool the demo model searches with: an offline 'search' that answers after a pause."""

    def __init__(self, seconds: float = 2.0) -> None:
        self._seconds = seconds

    async def __aenter__(self) -> DemoResearchTools:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    def offered(self) -> list[dict[str, Any]]:
        parameters = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
        function = {"name": SEARCH_TOOL, "description": "Search the offline demo library", "parameters": parameters}
        return [{"type": "function", "function": function}]

    def owns(self, name: str) -> bool:
        return name == SEARCH_TOOL

    async def call(self, name: str, arguments: str) -> ToolOutcome:
        args = json.loads(arguments or "{}")
        query = str(args.get("query", ""))
        await asyncio.sleep(self._seconds)
        digest = hashlib.sha256(query.encode()).hexdigest()[:8]
        content = f"Three sources agree on the {query} (demo library entry {digest})."
        return ToolOutcome("research", "search", args, content, False)
