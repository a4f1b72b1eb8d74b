"""Every sample event in events/ runs through the handler it is for, against the emulator."""

import json

import pytest

from asyncinfer.routes import HANDLERS
from asyncinfer.tasks.dialects.async_api import public_id
from asyncinfer.tasks.keys import create_key
from asyncinfer.tasks.model import TaskStatus
from tests.conftest import EVENTS, load_event
from tests.integration.test_store import make_task

pytestmark = pytest.mark.integration


def handler_for(name: str) -> str:
    return next(function for function in HANDLERS if name.startswith(function))


def test_there_is_a_sample_event_for_every_handler():
    names = [p.stem for p in EVENTS.glob("*.json")]
    assert {handler_for(n) for n in names} == set(HANDLERS)


@pytest.mark.parametrize("name", sorted(p.stem for p in EVENTS.glob("*.json")))
def test_each_sample_event_is_handled(aws, name):
    event = load_event(name)
    function = handler_for(name)
    task = make_task(tenant="acme")
    aws.store.create(task)
    if function == "authorizer":
        key = create_key(aws.store, "acme")
        event["headers"]["Authorization"] = f"Bearer {key}"
    elif function.startswith("api_") and event.get("pathParameters"):
        event["pathParameters"]["id"] = public_id(task.id)
        event["path"] = event["path"].replace(event["path"].split("/")[3], public_id(task.id))
    elif function in {"worker", "dead_letter"}:
        for record in event["Records"]:
            record["body"] = json.dumps({"tenant": "acme", "task_id": task.id})

    result = aws.functions.invoke(function, event)

    if function == "authorizer":
        assert result["context"] == {"tenant": "acme"}
    elif function.startswith("api_"):
        assert result["statusCode"] == 200, result["body"]
    else:
        assert result == {"batchItemFailures": []}
        expected = TaskStatus.COMPLETED if function == "worker" else TaskStatus.FAILED
        assert aws.store.get("acme", task.id).status == expected
