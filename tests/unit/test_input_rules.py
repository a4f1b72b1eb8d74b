"""The near-miss rule for request fields and the format-only hint for ids of another surface."""

import pytest

from asyncinfer.domain.fields import CHAT, MEDIA_CONFIG, PERPLEXITY_ENVELOPE, near_miss
from asyncinfer.surfaces.contract import where_read


@pytest.mark.parametrize(
    ("name", "known", "meant"),
    [
        ("max_token", CHAT, "max_tokens"),
        ("temprature", CHAT, "temperature"),
        ("Temperature", CHAT, "temperature"),
        ("maxTokens", CHAT, "max_tokens"),
        ("max-tokens", CHAT, "max_tokens"),
        ("frequence_penalty", CHAT, "frequency_penalty"),
        ("stopp", CHAT, "stop"),  # as near to top_p without separators; nearer as written
        ("idempotency_kye", PERPLEXITY_ENVELOPE, "idempotency_key"),
        ("image_sise", MEDIA_CONFIG["image"], "image_size"),
    ],
)
def test_typos_of_known_fields_are_near_misses(name, known, meant):
    assert near_miss(name, known) == meant


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",  # known
        "web_search",  # a known name's words, fewer: another parameter
        "mirostat_lr_decay",  # a known name's words, more
        "my_trace",
        "x_vendor_option",
        "top",
        "k",
    ],
)
def test_known_names_and_names_far_from_them_are_not(name):
    assert near_miss(name, CHAT) is None


@pytest.mark.parametrize(
    ("here", "public", "hint"),
    [
        ("Async API", "0190a5d27b3c7d4e8f001a2b3c4d5e6f", "NetMind generation id; read it at GET /v1/generation/{id}"),
        ("NetMind", "task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f", "Async API task id; read it at GET /v1/async/{id}"),
        ("NetMind", "0190A5D2-7B3C-7D4E-8F00-1A2B3C4D5E6F", "Perplexity request id"),
        ("Perplexity", "msg_async_12345", "PrivateGPT message id"),
        ("Batches", "task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f", "or GET /v1/generation/{id} (a generation)"),
        ("PrivateGPT", "batch_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f", "batch id; read it at GET /v1/batches/{id}"),
    ],
)
def test_an_id_of_another_surfaces_form_gets_a_hint(here, public, hint):
    assert hint in where_read(here, public)


@pytest.mark.parametrize(
    ("here", "public"),
    [
        ("Async API", "task_0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"),
        ("Async API", "0190a5d2-7b3c-7d4e-8f00-1a2b3c4d5e6f"),  # a chat surface's spelling: read here too
        ("Perplexity", "msg_0190a5d27b3c7d4e8f001a2b3c4d5e6f"),
        ("PrivateGPT", "msg_async_12345"),
        ("NetMind", "0190a5d27b3c7d4e8f001a2b3c4d5e6f"),
        ("Async API", "not-an-id"),
        ("Models", "0190a5d27b3c7d4e8f001a2b3c4d5e6f"),  # not a task surface
        ("Async API", None),
    ],
)
def test_ids_of_a_surfaces_own_family_or_of_no_known_form_get_none(here, public):
    assert where_read(here, public) is None
