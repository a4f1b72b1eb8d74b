"""Every request body in the OpenAPI document carries an example that the route's own validation accepts,
with a model the packaged registry serves without the long-task runner's tools (what Swagger UI's
"Try it out" sends; without an example it builds one from the schema, which our validation refuses)."""

import pytest

from asyncinfer.domain.batches import BatchRequest
from asyncinfer.domain.generation import parse_generation, parse_media_config
from asyncinfer.domain.model import TaskKind
from asyncinfer.domain.requests import parse_chat_request
from asyncinfer.providers.registry import load_registry
from asyncinfer.surfaces import docs, perplexity, privategpt

SUBMITS = [
    ("POST", "/v1/async"),
    ("POST", "/v1/messages/async"),
    ("POST", "/async/chat/completions"),
    ("POST", "/v1/async/sonar"),
    ("POST", "/v1/generation"),
    ("POST", "/v1/batches"),
    ("POST", "/v1/batches/{id}/retry"),
    ("POST", "/v1/messages/batches"),
    ("POST", "/v1/responses"),
]
REGISTRY = load_registry()


def example(method: str, path: str) -> dict:
    return docs.document()["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["example"]


def test_every_request_body_in_the_document_has_an_example():
    paths = docs.document()["paths"]
    with_body = {(m.upper(), p) for p, item in paths.items() for m, op in item.items() if "requestBody" in op}
    assert with_body == set(SUBMITS)
    for method, path in SUBMITS:
        assert example(method, path), (method, path)


def served_chat(chat: dict) -> None:
    parsed = parse_chat_request(chat)
    spec = REGISTRY.resolve(parsed.model, TaskKind.CHAT)
    assert spec.tools is None and not REGISTRY.runner_only(spec), f"{parsed.model} needs the long-task runner"


@pytest.mark.parametrize("path", ["/async/chat/completions", "/v1/async/sonar"])
def test_the_perplexity_examples_pass_validation(path):
    chat, _key = perplexity.parse_submit(example("POST", path), None)
    served_chat(chat)


def test_the_async_api_and_privategpt_examples_pass_validation():
    served_chat(example("POST", "/v1/async"))
    assert example("POST", "/v1/async")["model"] == "mirothinker-1-7-deepresearch-mini"  # the MiroMind page's
    served_chat(privategpt.chat_body(example("POST", "/v1/messages/async"), REGISTRY.default_chat()))


def test_the_generation_example_passes_validation():
    generation = parse_generation(example("POST", "/v1/generation"))
    spec = REGISTRY.resolve_media(generation.model)
    parse_media_config(spec.kind, generation.config)
    assert spec.runs == "worker"


def test_the_batch_example_passes_validation():
    batch = BatchRequest.model_validate(example("POST", "/v1/batches"))
    for item in batch.requests:
        served_chat(item["body"])


def test_the_message_batch_example_is_a_batch_of_served_chats():
    from asyncinfer.domain.anthropic_messages import to_chat
    from asyncinfer.surfaces.anthropic_batches import MessageBatchCreate

    created = MessageBatchCreate.model_validate(example("POST", "/v1/messages/batches"))
    for item in created.requests:
        served_chat(to_chat(item.params))


def test_the_responses_example_is_a_served_chat():
    from asyncinfer.domain.responses import chat_body_of

    served_chat(chat_body_of(example("POST", "/v1/responses"), REGISTRY.default_chat()))
