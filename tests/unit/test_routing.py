"""Our router (asyncinfer.surfaces.routing) under the edge's resolver (asyncinfer.surfaces.edge.build_app): an event
is answered by the route of its method and resource, its parameters given from the route's annotations and checked
as Powertools' validation checked them, and what a route raises answered as the edge maps it."""

import base64
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Annotated

import pytest

from asyncinfer.domain.errors import BudgetExceeded, Conflict, RateLimited, TaskNotFound
from asyncinfer.routes import SURFACES
from asyncinfer.surfaces import contract
from asyncinfer.surfaces.contract import Id, Limit, route
from asyncinfer.surfaces.edge import build_app, tenant_of
from asyncinfer.surfaces.routing import Depends, Header, Query, Response, Router

router = Router()
CALLS: list[str] = []


def clock() -> str:
    raise NotImplementedError("the function provides it")


Clock = Annotated[str, Depends(clock)]
Trace = Annotated[str | None, Header(alias="X-Trace")]


@route(router, "GET", "/v1/things", "List things", contract.ASYNC_API)
def list_things(now: Clock, again: Clock, limit: Limit = None, trace: Trace = None) -> dict:
    return {"tenant": tenant_of(router), "now": now, "again": again, "limit": limit, "trace": trace}


@route(router, "GET", "/v1/things/{id}", "Get a thing", contract.ASYNC_API)
def get_thing(id: Id, now: Clock):  # a Response, or what an id asks it to raise
    raised = {
        "missing": TaskNotFound(),
        "twice": Conflict("Already there"),
        "broke": RuntimeError("a bug"),
        "slow": RateLimited("Too many", retry_after=7),
        "poor": BudgetExceeded(
            "Over budget", period="month", spent=Decimal("1.5"), reserved=Decimal(2), limit=Decimal(3)
        ),
    }
    if id in raised:
        raise raised[id]
    if id == "bytes":
        return Response(status_code=200, content_type="image/png", body=b"\x89PNG")
    return Response(status_code=201, content_type="application/json", body={"id": id}, headers={"X-Id": id})


@route(router, "GET", "/v1/things/{id}/wait", "Wait, then say which request this is", contract.ASYNC_API)
def wait_thing(id: Id, marker: Annotated[str | None, Query()] = None) -> dict:
    CALLS.append(id)
    if id == "first":
        BARRIER.wait(timeout=5)
    return {"id": id, "marker": router.current_event.query_string_parameters.get("marker"), "given": marker}


BARRIER = threading.Barrier(2)


def app(times: list[int] | None = None):
    def ticking() -> str:
        if times is not None:
            times.append(1)
        return "12:00"

    return build_app(router, provide={clock: ticking})


def event(method: str, path: str, resource: str | None = None, **given) -> dict:
    params = {"id": path.split("/")[3]} if resource and "{id}" in resource else None
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": given.get("headers", {}),
        "multiValueHeaders": given.get("multi_headers"),
        "queryStringParameters": given.get("query"),
        "multiValueQueryStringParameters": given.get("multi_query"),
        "pathParameters": params,
        "requestContext": {"authorizer": given.get("authorizer", {"tenant": "acme"})},
        "body": None,
        "isBase64Encoded": False,
    }


def body(answer: dict) -> dict:
    return json.loads(answer["body"])


def test_an_event_is_answered_by_the_route_of_its_method_and_resource():
    answer = app().resolve(event("GET", "/v1/things/abc", "/v1/things/{id}"), None)
    assert answer == {
        "statusCode": 201,
        "body": '{"id":"abc"}',
        "isBase64Encoded": False,
        "multiValueHeaders": {"X-Id": ["abc"], "Content-Type": ["application/json"]},
    }


@pytest.mark.parametrize(
    ("method", "resource"),
    [("POST", "/v1/things/{id}"), ("GET", "/v1/nothing"), ("GET", "/v1/things/abc")],
)
def test_no_route_of_that_method_and_resource_is_404_route_not_found(method, resource):
    answer = app().resolve(event(method, "/v1/things/abc", resource), None)
    assert answer["statusCode"] == 404 and body(answer) == {
        "error": {"code": "route_not_found", "message": "No such route"}
    }


def test_query_header_and_dependencies_are_given_as_declared_each_dependency_once_a_request():
    times: list[int] = []
    sent = event(
        "GET",
        "/v1/things",
        headers={"x-trace": "t-1"},
        query={"limit": "5,6"},
        multi_query=None,
    )
    answer = app(times).resolve(sent, None)
    assert body(answer) == {"tenant": "acme", "now": "12:00", "again": "12:00", "limit": "5,6", "trace": "t-1"}
    assert times == [1]
    bare = app().resolve(event("GET", "/v1/things"), None)
    assert body(bare) == {"tenant": "acme", "now": "12:00", "again": "12:00", "limit": None, "trace": None}


def test_the_multi_value_fields_are_read_first_as_powertools_read_them():
    sent = event(
        "GET",
        "/v1/things",
        headers={"X-Trace": "single"},
        multi_headers={"X-Trace": ["multi"]},
        query={"limit": "1"},
        multi_query={"limit": ["2"]},
    )
    answer = body(app().resolve(sent, None))
    assert (answer["limit"], answer["trace"]) == ("2", "multi")


def test_a_parameter_sent_twice_is_400_and_no_dependency_is_asked():
    times: list[int] = []
    sent = event("GET", "/v1/things", query={"limit": "2"}, multi_query={"limit": ["1", "2"]})
    answer = app(times).resolve(sent, None)
    assert answer["statusCode"] == 400
    assert body(answer) == {"error": {"code": "invalid_request", "message": "limit: Input should be a valid string"}}
    assert times == []


def test_a_required_parameter_absent_is_400_field_required():
    sent = event("GET", "/v1/things/abc", "/v1/things/{id}")
    sent["pathParameters"] = None
    answer = app().resolve(sent, None)
    assert answer["statusCode"] == 400
    assert body(answer)["error"] == {"code": "invalid_request", "message": "id: Field required"}


@pytest.mark.parametrize(
    ("thing", "status", "error", "headers"),
    [
        ("missing", 404, {"code": "not_found", "message": "No task with that id"}, {}),
        ("twice", 409, {"code": "conflict", "message": "Already there"}, {}),
        ("slow", 429, {"code": "rate_limited", "message": "Too many"}, {"Retry-After": ["7"]}),
        (
            "poor",
            402,
            {
                "code": "budget_exceeded",
                "message": "Over budget",
                "period": "month",
                "spent": 1.5,
                "reserved": 2,
                "limit": 3,
            },
            {},
        ),
        (
            "broke",
            500,
            {"code": "internal_error", "message": "Something went wrong on our side; nothing was lost, retry later"},
            {},
        ),
    ],
)
def test_what_a_route_raises_is_answered_as_the_edge_maps_it(thing, status, error, headers):
    answer = app().resolve(event("GET", f"/v1/things/{thing}", "/v1/things/{id}"), None)
    assert (answer["statusCode"], body(answer)) == (status, {"error": error})
    assert answer["multiValueHeaders"] == {**headers, "Content-Type": ["application/json"]}


def test_a_404_on_an_id_of_another_surfaces_form_says_where_it_is_read():
    batch = "batch_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"

    @route(router, "GET", "/v1/other/{id}", "Missing", contract.ASYNC_API)
    def missing(id: Id) -> dict:
        raise TaskNotFound()

    answer = app().resolve(event("GET", f"/v1/other/{batch}", "/v1/other/{id}"), None)
    assert answer["statusCode"] == 404
    hint = "This looks like a batch id; read it at GET /v1/batches/{id}"
    assert body(answer)["error"]["message"] == f"No task with that id. {hint}"


def test_no_authorized_tenant_is_401():
    answer = app().resolve(event("GET", "/v1/things", authorizer={}), None)
    assert answer["statusCode"] == 401 and body(answer)["error"]["code"] == "unauthorized"


def test_a_bytes_answer_goes_base64_encoded():
    answer = app().resolve(event("GET", "/v1/things/bytes", "/v1/things/{id}"), None)
    assert answer["isBase64Encoded"] is True and base64.b64decode(answer["body"]) == b"\x89PNG"
    assert answer["multiValueHeaders"] == {"Content-Type": ["image/png"]}


def test_a_text_answer_under_json_is_sent_as_it_is_and_no_header_is_sent_empty():
    answer = Response(200, "application/json", '{"a": 1}', headers={"X-None": None, "X-Two": ["a", "b"]})
    assert answer.proxy_result()["body"] == '{"a": 1}'
    assert answer.proxy_result()["multiValueHeaders"] == {"X-Two": ["a", "b"], "Content-Type": ["application/json"]}


def test_each_thread_answers_its_own_event():
    resolver = app()
    answers: dict[str, dict] = {}

    def ask(name: str) -> None:
        sent = event("GET", f"/v1/things/{name}/wait", "/v1/things/{id}/wait", query={"marker": name})
        answers[name] = body(resolver.resolve(sent, None))

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    while "first" not in CALLS:
        threading.Event().wait(0.01)
    ask("second")  # resolved while the first waits in its route
    BARRIER.wait(timeout=5)
    first.join(timeout=5)
    assert answers["first"] == {"id": "first", "marker": "first", "given": "first"}
    assert answers["second"] == {"id": "second", "marker": "second", "given": "second"}


def test_a_parameter_must_say_where_it_is_read_and_path_query_and_header_values_are_strings():
    with pytest.raises(TypeError, match="not a Path, Query, Header, Body or Depends"):
        route(Router(), "GET", "/v1/bad", "Bad", contract.ASYNC_API)(lambda id: {})
    with pytest.raises(TypeError, match="is a str"):

        def counted(limit: Annotated[int, Query()]) -> dict:
            return {}

        route(Router(), "GET", "/v1/bad", "Bad", contract.ASYNC_API)(counted)


def test_no_api_function_imports_powertools_event_handler():
    """Its import is what this router saves every JSON API function's cold start (the docs function loads it on
    the first read of the document)."""
    modules = [f"asyncinfer.handlers.{name}" for name in SURFACES]  # the streaming function's app shares them
    script = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        "print(any(n.startswith('aws_lambda_powertools.event_handler') for n in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_no_api_function_makes_an_answer_model_and_the_document_makes_them_all():
    """Answer models only document the answers: importing every API function makes none of them (they are the
    document's, asyncinfer.surfaces.answers); generating the document makes every surface's."""
    modules = [f"asyncinfer.handlers.{name}" for name in SURFACES]
    script = (
        "import sys\n"
        f"for m in {modules!r}: __import__(m)\n"
        "from asyncinfer.surfaces import answers\n"
        "made = [n for n, m in sys.modules.items() if n.startswith('asyncinfer.surfaces.') and "
        "getattr(getattr(m, 'answers', None), 'cache_info', None) and m.answers.cache_info().currsize]\n"
        "print(answers.shared.cache_info().currsize, made)\n"
        "from asyncinfer.surfaces import docs\n"
        "docs.document()\n"
        "later = sorted({n for n, m in sys.modules.items() if n.startswith('asyncinfer.surfaces.') and "
        "getattr(getattr(m, 'answers', None), 'cache_info', None) and m.answers.cache_info().currsize})\n"
        "print(answers.shared.cache_info().currsize, later)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    before, after = out.stdout.splitlines()
    assert before == "0 []"
    assert after.startswith("1 [") and "asyncinfer.surfaces.async_api" in after and "anthropic_batches" in after


def test_no_function_s_import_builds_a_model_s_validator():
    """Every model defers its build to its first use (defer_build): a function builds only the validators its
    requests use, never one at import (~1-2 ms each)."""
    from bench.coldstart import handler_modules

    script = (
        "import sys, pydantic\n"
        "__import__(sys.argv[1])\n"
        "def built(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        if sub.__module__.startswith('asyncinfer') and sub.__dict__.get('__pydantic_complete__'):\n"
        "            yield f'{sub.__module__}.{sub.__qualname__}'\n"
        "        yield from built(sub)\n"
        "print(sorted(set(built(pydantic.BaseModel))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name, module in handler_modules().items():
        out = subprocess.run([sys.executable, "-c", script, module], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "[]", (name, out.stdout)
