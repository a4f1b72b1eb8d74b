"""Input that used to pass or to be refused misleadingly (issue 20): chat messages checked as the Chat
Completions API checks them on every chat surface, near misses of known fields refused with "did you mean"
while other unknown fields still pass along, webhook and model errors that say what to do, and a 404 on an
id of another surface that says where such ids are read."""

import pytest

from asyncinfer.surfaces.async_api import internal_id

pytestmark = pytest.mark.integration

CHAT = {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]}
IMAGE = {"model": "demo-image", "config": {"prompt": "a cup of coffee"}}


def submit(aws, surface: str, body: dict) -> tuple[int, dict]:
    """`body` (a chat completion body) sent through `surface`'s submit route."""
    if surface == "async":
        return aws.api("POST", "/v1/async", body=body)
    if surface == "perplexity":
        return aws.api("POST", "/async/chat/completions", body={"request": body}, function="api_perplexity")
    if surface == "privategpt":
        return aws.api("POST", "/v1/messages/async", body=body, function="api_privategpt")
    status, answer = aws.api(
        "POST", "/v1/batches", body={"requests": [{"custom_id": "a", "body": body}]}, function="api_batches"
    )
    return status, answer


CHAT_SURFACES = ["async", "perplexity", "privategpt", "batch"]


def refused(aws, surface: str, body: dict) -> dict:
    """The error of a submit that must be a 400 and must store nothing."""
    status, answer = submit(aws, surface, body)
    assert status == 400, answer
    assert aws.queue_depth() == 0 and aws.queue_depth(aws.resources.batch_queue_url) == 0
    return answer["error"]


def messages(*items: dict) -> dict:
    return {**CHAT, "messages": list(items)}


# -- messages -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", CHAT_SURFACES)
def test_a_misspelled_message_key_is_a_400_naming_it_and_the_message(aws, surface):
    """It used to run on an empty prompt."""
    error = refused(
        aws, surface, messages({"role": "system", "content": "be brief"}, {"role": "user", "contnet": "hi"})
    )
    assert "messages[1]: unknown field 'contnet' (did you mean 'content'?)" in error["message"]
    if surface != "batch":  # a batch says which of its items is wrong, under its own code
        assert error["code"] == "unknown_field"


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"role": "robot", "content": "hi"}, "messages[0]: role is 'robot'; it is one of system, developer"),
        ({"content": "hi"}, "messages[0]: role is missing"),
        ({"role": "user"}, "messages[0]: a user message needs content"),
        ({"role": "user", "content": None}, "messages[0]: a user message needs content"),
        ({"role": "user", "content": []}, "messages[0].content: a string, or a non-empty array"),
        (
            {"role": "user", "content": [{"type": "text", "txt": "hi"}]},
            "messages[0].content[0]: a 'text' part needs 'text'",
        ),
        ({"role": "user", "content": [{"type": "text", "text": 7}]}, "messages[0].content[0].text: must be a string"),
        ({"role": "user", "content": [{"type": "txt", "text": "hi"}]}, "takes parts of type text, image_url"),
        ({"role": "user", "content": ["hi"]}, "messages[0].content[0]: a content part is an object with a type"),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
            "a system message takes parts of type text, not 'image_url'",
        ),
        ({"role": "assistant"}, "messages[0]: an assistant message needs content (or tool_calls)"),
        ({"role": "assistant", "content": None, "tool_calls": []}, "needs content (or tool_calls)"),
        ({"role": "assistant", "content": "x", "tool_calls": "call"}, "messages[0].tool_calls: must be an array"),
        ({"role": "tool", "content": "42"}, "messages[0]: a tool message needs tool_call_id"),
        (
            {"role": "user", "content": "hi", "tool_call_id": "c1"},
            "'tool_call_id' is a field of tool messages, not of user",
        ),
        (
            {"role": "user", "content": "hi", "tool_calls": []},
            "'tool_calls' is a field of assistant messages, not of user",
        ),
        ({"role": "user", "content": "hi", "name": 7}, "messages[0].name: must be a string"),
        ("hi", "messages[0]: a message is an object"),
    ],
)
def test_messages_follow_the_chat_completions_rules(aws, message, says):
    error = refused(aws, "async", messages(message))
    assert says in error["message"], error


def test_an_unknown_message_key_far_from_any_known_one_is_named_without_a_guess(aws):
    error = refused(aws, "async", messages({"role": "user", "content": "hi", "priority": 1}))
    assert error == {"code": "unknown_field", "message": "messages[0]: unknown field 'priority'"}


@pytest.mark.parametrize("surface", CHAT_SURFACES)
def test_every_message_field_the_providers_document_is_accepted(aws, surface):
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    body = messages(
        {"role": "system", "content": "be brief", "name": "setup"},
        {"role": "developer", "content": [{"type": "text", "text": "no lists"}]},
        {
            "role": "user",
            "name": "ann",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "file_url", "file_url": {"url": "https://example.com/a.pdf"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
        # An answer sent back as history, as OpenAI's and Perplexity's SDKs return it.
        {
            "role": "assistant",
            "content": "It is 2.",
            "refusal": None,
            "annotations": [],
            "audio": None,
            "function_call": None,
            "tool_calls": None,
            "reasoning_steps": [{"thought": "add them", "type": "thinking"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    )
    status, answer = submit(aws, surface, body)
    assert status == 200, answer


def test_privategpt_content_blocks_are_accepted(aws):
    body = messages(
        {"role": "user", "content": [{"type": "text", "text": "add 1 and 1"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1, "b": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "2"}]},
    )
    status, answer = submit(aws, "privategpt", body)
    assert status == 200, answer


# -- near misses of known fields ------------------------------------------------------------------------


@pytest.mark.parametrize("surface", CHAT_SURFACES)
@pytest.mark.parametrize(
    ("field", "meant"),
    [("max_token", "max_tokens"), ("temprature", "temperature"), ("maxTokens", "max_tokens"), ("top_pp", "top_p")],
)
def test_a_near_miss_of_a_known_field_is_a_400_with_did_you_mean(aws, surface, field, meant):
    error = refused(aws, surface, {**CHAT, field: 1})
    assert f"unknown field {field!r} (did you mean {meant!r}?)" in error["message"], error
    if surface != "batch":
        assert error["code"] == "unknown_field"


def test_a_near_miss_in_perplexitys_envelope_is_a_400(aws):
    """`idempotency_kye` used to be ignored: the submit then went ahead without the key the client meant."""
    body = {"request": CHAT, "idempotency_kye": "k-1"}
    status, answer = aws.api("POST", "/async/chat/completions", body=body, function="api_perplexity")
    assert status == 400, answer
    assert answer["error"] == {
        "code": "unknown_field",
        "message": "unknown field 'idempotency_kye' (did you mean 'idempotency_key'?)",
    }
    assert aws.queue_depth() == 0


def test_a_perplexity_body_without_its_envelope_says_where_the_request_goes(aws):
    status, answer = aws.api("POST", "/async/chat/completions", body=CHAT, function="api_perplexity")
    assert status == 400 and '"request": {"model"' in answer["error"]["message"], answer


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {**IMAGE, "config": {**IMAGE["config"], "image_sise": "square"}},
            "config: unknown field 'image_sise' (did you mean 'image_size'?)",
        ),
        (
            {"model": "demo-audio", "config": {"prompt": "rain", "duraton": 5}},
            "config: unknown field 'duraton' (did you mean 'duration'?)",
        ),
        ({"modle": "demo-image", "config": {"prompt": "x"}}, "unknown field 'modle' (did you mean 'model'?)"),
        ({**IMAGE, "configs": {}}, "unknown field 'configs' (did you mean 'config'?)"),
    ],
)
def test_netmind_near_misses_are_a_400_with_did_you_mean(aws, body, message):
    status, answer = aws.api("POST", "/v1/generation", body=body, function="api_netmind")
    assert status == 400 and answer["error"] == {"code": "unknown_field", "message": message}, answer
    assert aws.queue_depth() == 0


# Parameters of OpenAI's Chat Completions, Perplexity's chat completions (its SDK's request type), the
# PrivateGPT page and common OpenAI-compatible servers: none is a near miss of another, all pass along.
REAL_PARAMETERS = {
    "openai": """audio frequency_penalty function_call functions logit_bias logprobs max_completion_tokens max_tokens
        metadata modalities moderation n parallel_tool_calls prediction presence_penalty prompt_cache_key
        prompt_cache_retention reasoning_effort response_format safety_identifier seed service_tier stop store
        stream_options temperature tool_choice tools top_logprobs top_p user verbosity web_search_options""",
    "perplexity": """best_of country cum_logprobs disable_search diverse_first_token enable_search_classifier
        file_workspace_id has_image_url image_domain_filter image_format_filter language_preference
        last_updated_after_filter last_updated_before_filter latitude longitude num_images num_search_results
        ranking_model response_formatting_locale response_metadata return_images return_related_questions
        safe_search search_after_date_filter search_before_date_filter search_domain_filter
        search_internal_properties search_language_filter search_mode search_recency_filter search_tenant
        stream_mode thread_id top_k updated_after_timestamp updated_before_timestamp use_threads
        user_original_query return_citations""",
    "privategpt": """tool_context system thinking priority min_p repetition_penalty stop_sequences""",
    "compatible servers": """min_tokens typical_p length_penalty ignore_eos stop_token_ids skip_special_tokens
        spaces_between_special_tokens include_stop_str_in_output truncate_prompt_tokens prompt_logprobs
        allowed_token_ids bad_words use_beam_search echo add_generation_prompt continue_final_message
        chat_template chat_template_kwargs documents guided_json guided_regex guided_choice guided_grammar
        guided_decoding_backend structured_outputs request_id enable_thinking thinking_budget reasoning
        include_reasoning reasoning_format provider models route transforms plugins usage top_a keep_alive
        options num_ctx num_predict n_predict repeat_penalty repeat_last_n mirostat mirostat_eta mirostat_tau
        mirostat_lr tfs_z random_seed safe_prompt prompt_mode search_options enable_search result_format""",
}


@pytest.mark.parametrize("source", REAL_PARAMETERS)
@pytest.mark.parametrize("surface", ["async", "perplexity"])
def test_real_provider_parameters_are_never_taken_for_typos_and_pass_along(aws, source, surface):
    extra = {name: 1 for name in REAL_PARAMETERS[source].split()}
    if "service_tier" in extra:
        extra["service_tier"] = "flex"  # a class here (see test_scheduling): one of its names
    status, answer = submit(aws, surface, {**CHAT, **extra})
    assert status == 200, answer
    task = aws.store.get("acme", internal_id(answer["id"]))
    assert extra.items() <= task.request.items()


def test_unknown_fields_far_from_known_ones_still_pass_along(aws):
    extra = {"x_vendor_option": {"a": 1}, "my_trace": "t-1", "frobnicate": True}
    status, answer = submit(aws, "async", {**CHAT, **extra})
    assert status == 200, answer
    assert extra.items() <= aws.store.get("acme", internal_id(answer["id"])).request.items()


# -- messages that said the wrong thing -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x", "ftp://example.com/hook", "example.com/hook", "x"])
def test_a_webhook_url_that_is_not_http_says_the_scheme(aws, url):
    """`ftp://x` used to answer "String should have at least 8 characters"."""
    error = refused(aws, "async", {**CHAT, "webhook": {"url": url}})
    assert error["message"].startswith("webhook.url: must start with https:// (or http://)"), error
    assert "8 characters" not in error["message"]


def test_a_string_webhook_says_it_is_an_object_with_a_url(aws):
    """It used to answer "webhook.: Input should be a valid dictionary or instance of WebhookRequest"."""
    error = refused(aws, "async", {**CHAT, "webhook": "https://example.com/hook"})
    assert error["message"] == 'webhook must be an object such as {"url": "https://example.com/hook"}, not a string'
    status, answer = aws.api(
        "POST", "/v1/generation", body={**IMAGE, "webhook": "https://example.com/hook"}, function="api_netmind"
    )
    assert status == 400 and answer["error"]["message"].startswith("webhook must be an object"), answer


def test_a_chat_model_on_the_generation_surface_says_it_is_a_chat_model(aws):
    """It used to answer "Unknown generation model 'demo-chat'"."""
    status, answer = aws.api(
        "POST", "/v1/generation", body={"model": "demo-chat", "config": {"prompt": "x"}}, function="api_netmind"
    )
    assert status == 400 and answer["error"]["code"] == "unknown_model"
    message = answer["error"]["message"]
    assert message.startswith("'demo-chat' is a chat model") and "Unknown" not in message
    assert "POST /v1/async" in message and "POST /async/chat/completions" in message


@pytest.mark.parametrize("surface", CHAT_SURFACES)
def test_a_media_model_on_a_chat_surface_says_where_it_runs(aws, surface):
    """It used to answer "Unknown chat model 'demo-image'"."""
    error = refused(aws, surface, {**CHAT, "model": "demo-image"})
    assert "'demo-image' is an image model, not a chat model: create it at POST /v1/generation" in error["message"]
    assert "Unknown" not in error["message"]


def test_an_unknown_model_is_still_unknown(aws):
    status, answer = aws.api("POST", "/v1/generation", body={**IMAGE, "model": "nope"}, function="api_netmind")
    assert status == 400 and answer["error"]["message"].startswith("Unknown generation model 'nope'")
    error = refused(aws, "async", {**CHAT, "model": "nope"})
    assert error["message"].startswith("Unknown chat model 'nope'")


# -- ids of another surface -----------------------------------------------------------------------------

UUID = "0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"
HEX = UUID.replace("-", "")
NETMIND_HINT = "This looks like a NetMind generation id; read it at GET /v1/generation/{id}"
ASYNC_HINT = "This looks like an Async API task id; read it at GET /v1/async/{id}"
PPLX_HINT = "This looks like a Perplexity request id; read it at GET /async/chat/completions/{id}"
PGPT_HINT = "This looks like a PrivateGPT message id; read it at GET /v1/messages/async/{id}/status"
BATCH_HINT = "This looks like a batch id; read it at GET /v1/batches/{id}"


@pytest.mark.parametrize(
    ("function", "path", "answer"),
    [
        ("api_async", f"/v1/async/{HEX}", f"No task with that id. {NETMIND_HINT}"),
        ("api_async", f"/v1/async/{HEX}/cancel", f"No task with that id. {NETMIND_HINT}"),
        ("api_async", "/v1/async/msg_async_12345", f"No task with that id. {PGPT_HINT}"),
        ("api_async", f"/v1/async/batch_{UUID}", f"No task with that id. {BATCH_HINT}"),
        ("api_perplexity", f"/async/chat/completions/{HEX}", f"No task with that id. {NETMIND_HINT}"),
        ("api_privategpt", f"/v1/messages/async/{HEX}/status", f"No message with that id. {NETMIND_HINT}"),
        ("api_netmind", f"/v1/generation/task_{UUID}", f"No task with that id. {ASYNC_HINT}"),
        ("api_netmind", f"/v1/generation/{UUID}", f"No task with that id. {PPLX_HINT}"),
        ("api_netmind", f"/v1/generation/msg_{HEX}", f"No task with that id. {PGPT_HINT}"),
        ("api_netmind", f"/v1/generation/batch_{UUID}", f"No task with that id. {BATCH_HINT}"),
    ],
)
def test_an_id_of_another_surface_is_a_404_that_says_where_it_is_read(aws, function, path, answer):
    method = "POST" if path.endswith("/cancel") else "GET"
    status, body = aws.api(method, path, function=function)
    assert (status, body) == (404, {"error": {"code": "not_found", "message": answer}})


@pytest.mark.parametrize(
    ("function", "path"),
    [
        ("api_async", f"/v1/async/task_{UUID}"),  # its own
        ("api_async", f"/v1/async/{UUID}"),  # Perplexity's spelling: read on every chat surface
        ("api_async", f"/v1/async/msg_{HEX}"),  # PrivateGPT's spelling of a task id: the same
        ("api_async", "/v1/async/not-an-id"),
        ("api_perplexity", f"/async/chat/completions/task_{UUID}"),
        ("api_privategpt", "/v1/messages/async/my-message/status"),
        ("api_netmind", f"/v1/generation/{HEX}"),
    ],
)
def test_ids_a_surface_reads_itself_get_the_plain_404(aws, function, path):
    status, body = aws.api("GET", path, function=function)
    assert status == 404 and "This looks like" not in body["error"]["message"], body


def test_the_hint_is_the_same_for_another_tenants_generation_and_a_missing_one(aws):
    """By the id's form only: a tenant learns nothing about a task from it."""
    status, created = aws.api("POST", "/v1/generation", body=IMAGE, function="api_netmind")
    assert status == 200
    theirs = aws.api("GET", f"/v1/async/{created['id']}", tenant="intruder")
    mine = aws.api("GET", f"/v1/async/{created['id']}")  # a generation, not a chat task
    missing = aws.api("GET", f"/v1/async/{HEX}", tenant="intruder")
    assert (
        theirs
        == mine
        == missing
        == (404, {"error": {"code": "not_found", "message": f"No task with that id. {NETMIND_HINT}"}})
    )


def test_a_model_typo_is_answered_with_the_id_it_was_probably_meant_to_be(aws):
    error = refused(aws, "async", {**CHAT, "model": "gpt4o"})
    assert error["code"] == "unknown_model"
    assert error["message"].startswith("Unknown chat model 'gpt4o' (did you mean 'gpt-4o'?); available: ")
    status, answer = aws.api(
        "POST", "/v1/generation", body={**IMAGE, "model": "qwen/qwen-imag"}, function="api_netmind"
    )
    assert status == 400 and "(did you mean 'Qwen/Qwen-Image'?)" in answer["error"]["message"]
    assert "did you mean" not in refused(aws, "async", {**CHAT, "model": "zzz"})["message"]
