"""A new surface is one module (tests/support/echo_surface.py) and a line in the route table: it is routed, served
(its declared body read strictly and its declared headers given to it, its reads rendered with the poll hint),
documented with its models and example, and the document stays valid. docs/architecture.md, "Adding a surface"."""

import json
from types import SimpleNamespace

from openapi_spec_validator import validate

from asyncinfer.domain.model import Task, TaskKind, TaskStatus, new_task_id
from asyncinfer.routes import SURFACES, routes
from asyncinfer.surfaces import contract, docs
from asyncinfer.surfaces.edge import build_app
from asyncinfer.tasks.reads import TaskRead
from tests.conftest import load_event
from tests.support import echo_surface

WITH_ECHO = {**SURFACES, "api_async": (*SURFACES["api_async"], "tests.support.echo_surface")}


class FakeTasks:
    """What the echo surface asks of the task service, recorded."""

    def __init__(self) -> None:
        self.limits = SimpleNamespace(max_request_bytes=1024)
        self.task = Task(
            id=new_task_id(), tenant="acme", kind=TaskKind.CHAT, model="demo-chat", created_at=1, updated_at=1
        )
        self.submitted: list[tuple] = []

    def submit_chat(self, tenant, body, how):
        self.submitted.append((tenant, body, how))
        return self.task

    def read(self, tenant, task_id, kinds):
        assert (tenant, task_id) == ("acme", self.task.id) and TaskKind.CHAT in kinds
        return TaskRead(self.task, 1000, str, lambda task: {"echoed": True}, lambda task: None)


def call(tasks: FakeTasks, method: str, path: str, body: str | None = None, headers: dict | None = None) -> dict:
    app = build_app(echo_surface.router, provide={contract.task_service: lambda: tasks})
    event = load_event("api_async_get")
    resource = "/v1/echo/{id}" if path.count("/") == 3 else path
    event.update(resource=resource, path=path, httpMethod=method, body=body, pathParameters=None)
    if resource != path:
        event["pathParameters"] = {"id": path.rsplit("/", 1)[1]}
    event["headers"].update(headers or {})
    return app.resolve(event, None)


def test_a_new_surface_is_in_the_route_table_by_its_line_in_surfaces():
    echo = [r for r in routes(WITH_ECHO) if r.path.startswith("/v1/echo")]
    assert {(r.method, r.path, r.function, r.authorized) for r in echo} == {
        ("POST", "/v1/echo", "api_async", True),
        ("GET", "/v1/echo/{id}", "api_async", True),
    }


def test_its_routes_get_their_declared_body_and_headers_and_render_reads():
    tasks = FakeTasks()
    answer = call(tasks, "POST", "/v1/echo", json.dumps(echo_surface.EXAMPLE), {"Idempotency-Key": "k-1"})
    assert answer["statusCode"] == 200, answer
    tenant, chat, how = tasks.submitted[0]
    assert tenant == "acme" and chat["messages"][0]["content"] == "Hello"
    assert (how.surface, how.idempotency_key) == ("echo", "k-1")

    read = call(tasks, "GET", f"/v1/echo/{tasks.task.id}")
    assert read["statusCode"] == 200 and read["multiValueHeaders"][contract.POLL_HEADER] == ["1000"]
    assert json.loads(read["body"])["reply"] == {"echoed": True}
    assert json.loads(read["body"])["state"] == TaskStatus.CREATED.value.lower()


def test_its_body_is_read_strictly_413_before_parsing():
    tasks = FakeTasks()
    too_large = call(tasks, "POST", "/v1/echo", json.dumps({"text": "x" * 2000}))
    assert too_large["statusCode"] == 413 and json.loads(too_large["body"])["error"]["code"] == "request_too_large"
    not_json = call(tasks, "POST", "/v1/echo", '{"text": NaN}')
    assert not_json["statusCode"] == 400
    assert not tasks.submitted


def test_it_is_documented_with_its_model_and_example():
    document = docs.generate(WITH_ECHO)
    submit = document["paths"]["/v1/echo"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["example"] == echo_surface.EXAMPLE
    assert [p["name"] for p in submit["parameters"]] == ["Idempotency-Key"]
    assert "EchoRequest" in document["components"]["schemas"]
    validate(json.loads(json.dumps(document)))
