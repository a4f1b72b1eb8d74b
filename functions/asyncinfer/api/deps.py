"""The task service that routes depend on. Each function's entry point provides its own (one per
function instance) through the resolver's dependency overrides; a function that does not fails loudly."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends

from asyncinfer.tasks.service import TaskService


def task_service() -> TaskService:
    raise NotImplementedError("this function provides no task service")


Tasks = Annotated[TaskService, Depends(task_service)]
