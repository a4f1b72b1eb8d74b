import json

from openapi_spec_validator import validate

from asyncinfer.routes import ROUTES
from asyncinfer.surfaces import docs
from tests.support.openapi import answer_schema


def test_the_document_is_valid_openapi_3_1():
    document = docs.document()
    assert document["openapi"] == "3.1.0"
    validate(json.loads(json.dumps(document)))


def test_the_generated_document_has_exactly_the_routes_of_the_route_table():
    """Powertools generates the document from the routers; routes.py deploys them: the same set."""
    paths = docs.document()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert documented == {(r.method, r.path) for r in ROUTES}


def test_public_routes_say_so_and_request_bodies_come_from_the_validating_models():
    paths = docs.document()["paths"]
    for route in ROUTES:
        operation = paths[route.path][route.method.lower()]
        assert (operation.get("security") == []) == (not route.authorized)
    body = paths["/v1/generation"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GenerationRequest"}
    schemas = docs.document()["components"]["schemas"]
    assert set(schemas["ChatRequest"]["required"]) == {"model", "messages"}
    assert "image_size" in schemas["ImageConfig"]["properties"]


def test_our_validation_answers_are_documented_not_powertools_422():
    document = docs.document()
    for item in document["paths"].values():
        for operation in item.values():
            assert "422" not in operation["responses"]
            assert {"200", "400", "404"} <= set(operation["responses"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    submit = document["paths"]["/v1/async"]["post"]
    assert submit["requestBody"]["required"] is True
    assert [p["name"] for p in submit["parameters"]] == [
        "Idempotency-Key",
        "X-Fal-Request-Timeout",
        "Cancel-After",
        "Prefer",
    ]
    limit = next(p for p in document["paths"]["/v1/batches"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}


def test_the_docs_page_inlines_swagger_ui_and_the_document():
    page = docs.swagger_page()
    assert "SwaggerUIBundle" in page and "/v1/generation/{id}" in page
    assert "cdn" not in page.split("<script>")[0].lower()


def test_the_document_carries_the_403_and_the_usage_reserved_figures():
    paths = docs.document()["paths"]
    for path in ("/v1/async", "/async/chat/completions", "/v1/messages/async", "/v1/generation", "/v1/batches"):
        responses = paths[path]["post"]["responses"]
        assert {"402", "403", "429"} <= set(responses), path
        assert "class_not_allowed" in responses["403"]["description"]
    period = answer_schema(docs.document(), "GET", "/v1/usage", "budgets", "daily")["properties"]
    assert {"spent", "reserved", "remaining", "limit"} <= set(period)
    read = answer_schema(docs.document(), "GET", "/v1/async/{id}")
    assert "queue_position_estimated" in read["properties"]
