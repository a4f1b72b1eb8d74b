"""The OpenAI Videos API's shape as upstream jobs: `POST /v1/videos` starts one, `GET /v1/videos/{id}` polls it (queued,
in_progress with a `progress` percent, then completed or failed), `GET /v1/videos/{id}/content` downloads the MP4.
OpenAI's own Sora API was shut down on 2026-09-24 (its SDK says so); the shape lives on in gateways such as LiteLLM's
proxy, which serves it for Gemini's Veo, Vertex AI, Azure and Runway (https://docs.litellm.ai/docs/videos). The upstream
cannot write to our bucket, so the poll that finds the video completed copies it to the task's output prefix. Its
percent is the task's progress. The shape has no cancel: a cancelled task's video is deleted upstream once it exists."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import openai

from asyncinfer.domain.model import TaskKind
from asyncinfer.providers.base import JobState, ProviderError
from asyncinfer.providers.openai_jobs import OpenAIClientJobs
from asyncinfer.providers.openai_provider import classify

RUNNING = frozenset({"queued", "in_progress"})
DEFAULT_SECONDS = 6
VIDEO_FILE = "output.mp4"

PutObject = Callable[[str, bytes, str], None]


class OpenAIVideoJobs(OpenAIClientJobs):
    def __init__(self, client_factory: Callable[[], openai.OpenAI], put_object: PutObject) -> None:
        super().__init__(client_factory)
        self._put = put_object

    def start(self, upstream_model: str, kind: TaskKind, config: dict[str, Any], output_uri: str, token: str) -> dict:
        if kind != TaskKind.VIDEO:
            raise ProviderError("invalid_request", f"{upstream_model} makes videos only", retryable=False)
        # `seconds` as the API spells it, else the config's duration: which lengths it makes is the model's.
        seconds = str(int(config.get("seconds") or config.get("duration") or DEFAULT_SECONDS))
        try:
            with _quiet():
                video = self.client().videos.create(
                    model=upstream_model,
                    prompt=config["prompt"],
                    seconds=seconds,  # type: ignore[arg-type]
                    size=config.get("size") or config.get("dimension") or "1280x720",
                    extra_headers={"Idempotency-Key": token},
                )
        except openai.OpenAIError as exc:
            raise classify(exc) from None
        key = output_uri.removeprefix("s3://").partition("/")[2].rstrip("/") + "/" + VIDEO_FILE
        return {"id": video.id, "key": key}

    def poll(self, job: dict) -> JobState:
        try:
            with _quiet():
                video = self.client().videos.retrieve(job["id"])
        except openai.OpenAIError as exc:
            raise classify(exc) from None
        if video.status in RUNNING:
            return JobState("running", None if video.progress is None else float(video.progress))
        if video.status == "completed":
            try:
                with _quiet():
                    body = self.client().videos.download_content(job["id"]).read()
            except openai.OpenAIError as exc:
                raise classify(exc) from None
            self._put(job["key"], body, "video/mp4")
            return JobState("completed", 100.0, (job["key"],))
        error = video.error.message if video.error else f"The video generation ended {video.status}"
        return JobState("failed", error=error)

    def cancel(self, job: dict) -> bool:
        try:
            with _quiet():
                self.client().videos.delete(job["id"])
        except openai.OpenAIError:
            return False  # not deletable while it is made, or already gone
        return True


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The SDK warns of OpenAI's own Sora shutdown on every call, whichever server it talks to."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
