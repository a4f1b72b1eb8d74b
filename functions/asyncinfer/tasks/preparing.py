"""A request made ready to become a task: a chat or generation body validated against the registry (the model's kind,
whether this deployment serves it, its limits and formats) with the deadlines it asks for; a model sent to the wrong
surface is refused with where it runs instead. A submit and a batch's items are prepared alike."""

from __future__ import annotations

import json
from typing import Any

from asyncinfer.domain import deadlines
from asyncinfer.domain.catalog import ModelRegistry, ModelSpec
from asyncinfer.domain.errors import InvalidRequest, UnknownModel
from asyncinfer.domain.fields import MEDIA_CONFIG, check_near_misses
from asyncinfer.domain.lanes import parse_tier
from asyncinfer.domain.model import TASK_EVENTS, TaskKind
from asyncinfer.domain.requests import parse_chat_request, parse_webhook
from asyncinfer.domain.ssrf import Outbound
from asyncinfer.domain.submission import Prepared, Submission, SubmitLimits, check_servable, fingerprint

_ARTICLE = {TaskKind.CHAT: "a", TaskKind.IMAGE: "an", TaskKind.AUDIO: "an", TaskKind.VIDEO: "a"}


class Preparing:
    """Part of TaskService: its registry, limits and outbound-address rules are the service's."""

    registry: ModelRegistry
    limits: SubmitLimits
    outbound: Outbound

    def prepare_chat(self, body: dict[str, Any], how: Submission = Submission()) -> Prepared:
        """A chat body validated against the registry, ready to become a task (submit or batch item)."""
        webhook = parse_webhook(body.get("webhook"), TASK_EVENTS, self.outbound)
        request = parse_chat_request(body, self.outbound)
        spec = self._chat_model(request.model)
        check_servable(request.model, spec, self.registry, self.limits)
        if request.max_tokens is not None and request.max_tokens > spec.max_output_tokens:
            raise InvalidRequest(f"max_tokens {request.max_tokens} exceeds {spec.max_output_tokens}, the model's limit")
        correlation = body.get("correlation_id")
        return Prepared(
            TaskKind.CHAT,
            request.model,
            request.model_dump(mode="json", exclude_none=True),
            fingerprint(how.surface, body, how.message_id),
            {
                "correlation_id": correlation if isinstance(correlation, str) else None,
                "public_name": how.message_id,
                "webhook": webhook,
                "service_tier": parse_tier(body),
                **deadline_fields(body, how),
            },
        )

    def prepare_generation(self, body: dict[str, Any], how: Submission = Submission()) -> Prepared:
        """`{model, config}` for an image, audio or video model; the config is checked against its kind."""
        # Imported here: only a generation's submit builds the media models (the chat surfaces never do).
        from asyncinfer.domain.generation import parse_generation, parse_media_config

        webhook = parse_webhook(body.get("webhook"), TASK_EVENTS, self.outbound)
        request = parse_generation(body)
        spec = self._media_model(request.model)
        check_servable(request.model, spec, self.registry, self.limits)
        check_near_misses(request.config, MEDIA_CONFIG[spec.kind.value], "config")
        config = parse_media_config(spec.kind.value, request.config)
        fmt = getattr(config, "output_format", None)
        if spec.output_formats is not None and fmt not in spec.output_formats:
            raise InvalidRequest(
                f"config.output_format {fmt!r} is not offered by {request.model}; "
                f"it makes {', '.join(spec.output_formats)}"
            )
        request_body = {"model": request.model, "config": request.config}
        fields = {"webhook": webhook, "service_tier": parse_tier(body), **deadline_fields(body, how)}
        return Prepared(spec.kind, request.model, request_body, fingerprint(how.surface, body), fields)

    def _chat_model(self, model: str) -> ModelSpec:
        """The chat model `model`; a media model is refused with where it runs instead."""
        try:
            return self.registry.resolve(model, TaskKind.CHAT)
        except UnknownModel:
            kind = self._kind_of(model)
            if kind is None:
                raise
            chat = ", ".join(self.registry.ids(TaskKind.CHAT))
            raise UnknownModel(
                f"{model!r} is {_ARTICLE[kind]} {kind.value} model, not a chat model: create it at POST /v1/generation "
                f'({{"model": {json.dumps(model)}, "config": {{"prompt": "..."}}}}). Chat models: {chat}'
            ) from None

    def _media_model(self, model: str) -> ModelSpec:
        """The image, audio or video model `model`; a chat model is refused with where it runs instead."""
        try:
            return self.registry.resolve_media(model)
        except UnknownModel:
            if self._kind_of(model) != TaskKind.CHAT:
                raise
            raise UnknownModel(
                f"{model!r} is a chat model; /v1/generation runs image, audio and video models. Submit it with "
                "messages to POST /v1/async, POST /async/chat/completions or POST /v1/messages/async"
            ) from None

    def _kind_of(self, model: str) -> TaskKind | None:
        """What kind of model the registry knows `model` as (through the same lookups submits use), if any."""
        try:
            return self.registry.resolve_media(model).kind
        except UnknownModel:
            pass
        try:
            return self.registry.resolve(model, TaskKind.CHAT).kind
        except UnknownModel:
            return None


def deadline_fields(body: dict[str, Any], how: Submission) -> dict[str, Any]:
    """The deadlines asked for, as durations: a task's creation makes them times (Deadlines.fields)."""
    asked = deadlines.parse_body(body).merged(how.deadlines)
    return {"deadlines": asked} if asked != deadlines.Deadlines() else {}
