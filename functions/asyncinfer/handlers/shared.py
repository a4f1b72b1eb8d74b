"""What every JSON API function that serves tasks shares: its settings, one TaskService per instance, the entry
point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncinfer import wiring
from asyncinfer.config import ApiSettings
from asyncinfer.handlers.entry import entry_point

if TYPE_CHECKING:
    from asyncinfer.tasks.service import TaskService

__all__ = ["entry_point", "service"]


@wiring.cached
def service() -> TaskService:
    return wiring.task_service(ApiSettings())
