"""The request fields each surface knows, and the near-miss rule: a field we do not know is passed along to
the provider, unless it is so close to a known one that it is surely a typo (`max_token`, `temprature`),
which is a 400 naming the field it was probably meant to be. Known fields include the ones the providers'
own references and SDKs document, so none of those is ever taken for a typo."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any

from asyncinfer.domain.errors import UnknownField

# How alike two names must be (difflib's ratio, on names lowercased without `_` and `-`) to call one a typo
# of the other: one wrong, missing or swapped letter in a name of eight or more letters is. A field that is
# refused anyway (unknown where nothing passes along) is told the nearest known one on a looser rule.
NEAR_MISS = 0.85
SUGGEST = 0.6
MIN_LETTERS = 4  # Shorter names are too coarse for a ratio (`top` would be a typo of `stop`): never taken for typos.

# The chat completion body: our own fields, the OpenAI Chat Completions parameters, Perplexity's, the PrivateGPT page's,
# and the sampling parameters OpenAI-compatible servers (vLLM, Ollama, OpenRouter, ...) take as extra body.
OURS = frozenset(
    {"model", "messages", "max_tokens", "mcp_servers", "correlation_id", "webhook"}
    | {"start_timeout", "execution_timeout", "complete_by"}
)
OPENAI_CHAT = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
        "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
PERPLEXITY_CHAT = frozenset(
    {
        "_debug_pro_search", "_force_new_agent", "_inputs", "_prompt_token_length", "best_of", "country",
        "cum_logprobs", "disable_search", "diverse_first_token", "enable_search_classifier", "file_workspace_id",
        "frequency_penalty", "has_image_url", "image_domain_filter", "image_format_filter", "language_preference",
        "last_updated_after_filter", "last_updated_before_filter", "latitude", "logprobs", "longitude",
        "max_tokens", "messages", "model", "n", "num_images", "num_search_results", "parallel_tool_calls",
        "presence_penalty", "ranking_model", "reasoning_effort", "response_format", "response_formatting_locale",
        "response_metadata", "return_images", "return_related_questions", "safe_search",
        "search_after_date_filter", "search_before_date_filter", "search_domain_filter",
        "search_internal_properties", "search_language_filter", "search_mode", "search_recency_filter",
        "search_tenant", "stop", "stream", "stream_mode", "temperature", "thread_id", "tool_choice", "tools",
        "top_k", "top_logprobs", "top_p", "updated_after_timestamp", "updated_before_timestamp", "use_threads",
        "user_original_query", "web_search_options", "return_citations",
    }
)  # fmt: skip
PRIVATEGPT_CHAT = frozenset(
    {
        "messages", "model", "stream", "tools", "tool_choice", "tool_context", "mcp_servers", "response_format",
        "system", "thinking", "priority", "seed", "min_p", "top_p", "temperature", "top_k", "repetition_penalty",
        "presence_penalty", "frequency_penalty", "max_tokens", "correlation_id", "stop_sequences", "metadata",
    }
)  # fmt: skip
COMPATIBLE_SERVERS = frozenset(
    {
        "min_tokens", "min_p", "top_a", "top_k", "typical_p", "repetition_penalty", "length_penalty",
        "ignore_eos", "stop_token_ids", "skip_special_tokens", "spaces_between_special_tokens",
        "include_stop_str_in_output", "truncate_prompt_tokens", "prompt_logprobs", "allowed_token_ids",
        "bad_words", "use_beam_search", "echo", "add_generation_prompt", "continue_final_message",
        "chat_template", "chat_template_kwargs", "documents", "guided_json", "guided_regex", "guided_choice",
        "guided_grammar", "guided_decoding_backend", "guided_whitespace_pattern", "structured_outputs",
        "request_id", "priority", "enable_thinking", "thinking_budget", "reasoning", "include_reasoning",
        "provider", "models", "route", "transforms", "plugins", "usage", "keep_alive", "options", "format",
        "num_ctx", "num_predict", "repeat_penalty", "repeat_last_n", "mirostat", "mirostat_eta", "mirostat_tau",
        "tfs_z", "random_seed", "safe_prompt", "prompt_mode", "top_n_tokens", "return_full_text",
        "stop_sequences", "extra_body", "extra_headers", "extra_query", "timeout", "n_predict", "n_probs",
        "reasoning_format", "search_settings", "search_options", "enable_search", "result_format",
        "incremental_output", "mirostat_lr", "mirostat_target",
    }
)  # fmt: skip
CHAT = OURS | OPENAI_CHAT | PERPLEXITY_CHAT | PRIVATEGPT_CHAT | COMPATIBLE_SERVERS

# Perplexity's submit envelope: `{"request": {...}, "idempotency_key": "..."}`.
PERPLEXITY_ENVELOPE = frozenset({"request", "idempotency_key"})

# NetMind's `{model, config}` and its configs, by kind: our typed fields, the reference page's, and the
# common options of the image, audio and video models such APIs front.
GENERATION = frozenset(
    {"model", "config", "webhook", "service_tier", "start_timeout", "execution_timeout", "complete_by"}
)
_MEDIA_COMMON = frozenset({"prompt", "negative_prompt", "seed", "output_format", "sync_mode", "num_outputs"})
IMAGE_CONFIG = _MEDIA_COMMON | frozenset(
    {
        "image_size", "num_inference_steps", "guidance_scale", "num_images", "enable_safety_checker",
        "acceleration", "width", "height", "size", "aspect_ratio", "resolution", "quality", "style", "n",
        "strength", "image_url", "image_urls", "mask_url", "loras", "scheduler", "sampler", "steps", "cfg_scale",
        "true_cfg_scale", "enable_prompt_expansion", "output_quality", "response_format", "background",
    }
)  # fmt: skip
AUDIO_CONFIG = _MEDIA_COMMON | frozenset(
    {
        "duration", "num_inference_steps", "guidance_scale", "cfg_strength", "video_url", "sample_rate",
        "voice", "speed", "language", "lyrics", "tags", "format",
    }
)  # fmt: skip
VIDEO_CONFIG = _MEDIA_COMMON | frozenset(
    {
        "duration", "fps", "dimension", "resolution", "aspect_ratio", "image_url", "num_frames",
        "num_inference_steps", "guidance_scale", "enable_safety_checker", "camera_fixed", "motion_bucket_id",
    }
)  # fmt: skip
MEDIA_CONFIG: Mapping[str, frozenset[str]] = {"image": IMAGE_CONFIG, "audio": AUDIO_CONFIG, "video": VIDEO_CONFIG}


def _plain(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _words(name: str) -> set[str]:
    return {w.lower() for w in re.split(r"[_\-\s]+|(?<=[a-z0-9])(?=[A-Z])", name) if w}


def near_miss(name: str, known: Collection[str], cutoff: float = NEAR_MISS) -> str | None:
    """The known field `name` is probably a misspelling of, or None: a known name itself never is, nor a name
    that is a known one with words added or left out (`web_search_options`, `search_options`): such a name is
    some provider's other parameter."""
    if name in known or len(_plain(name)) < MIN_LETTERS:
        return None
    plain = {_plain(k): k for k in sorted(known)}
    found = difflib.get_close_matches(_plain(name), plain, n=5, cutoff=cutoff)
    if not found:
        return None
    # Equally near without separators (`stopp`: stop, top_p), the nearer as written wins.
    best = max(found, key=lambda p: (_ratio(_plain(name), p), _ratio(name.lower(), plain[p])))
    suggestion = plain[best]
    words, theirs = _words(name), _words(suggestion)
    return None if words < theirs or theirs < words else suggestion


def unknown_field(name: str, where: str = "", suggestion: str | None = None) -> UnknownField:
    """`messages[0]: unknown field 'contnet' (did you mean 'content'?)`."""
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return UnknownField(f"{where + ': ' if where else ''}unknown field {name!r}{hint}")


def check_near_misses(body: Mapping[str, Any], known: Collection[str], where: str = "") -> None:
    """UnknownField for the first field of `body` that is a near miss of a known one; other unknown fields pass."""
    for name in body:
        suggestion = near_miss(name, known)
        if suggestion is not None:
            raise unknown_field(name, where, suggestion)


def check_known(body: Mapping[str, Any], known: Collection[str], where: str = "") -> None:
    """UnknownField for the first field of `body` not in `known`, with the known one it is nearest to."""
    for name in body:
        if name not in known:
            raise unknown_field(name, where, near_miss(name, known, SUGGEST))
