"""A generation body (POST /v1/generation) and the config each kind of media takes (image, audio, video), validated
strictly as every request body is (asyncinfer.domain.requests): wrong types are rejected, never coerced."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asyncinfer.domain import fields
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.requests import (
    COMPLETE_BY_DOC,
    EXECUTION_DOC,
    START_DOC,
    TIER_DOC,
    WebhookRequest,
    validation_message,
)

# Generation (NetMind's `{model, config}`). Named sizes as the reference's image models take them.
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


class ImageSize(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    width: int = Field(ge=64, le=2048)
    height: int = Field(ge=64, le=2048)


class ImageConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="allow")

    prompt: str = Field(min_length=1, max_length=4000)
    image_size: Literal[tuple(IMAGE_SIZES)] | ImageSize = "landscape_4_3"  # type: ignore[valid-type]
    num_inference_steps: int = Field(default=30, ge=1, le=100)
    guidance_scale: float = Field(default=2.5, ge=0, le=30)
    num_images: int = Field(default=1, ge=1, le=4)
    enable_safety_checker: bool = True
    output_format: Literal["png", "jpeg", "webp"] = "png"
    acceleration: str = "none"
    seed: int | None = None

    def size(self) -> tuple[int, int]:
        if isinstance(self.image_size, ImageSize):
            return self.image_size.width, self.image_size.height
        return IMAGE_SIZES[self.image_size]


class AudioConfig(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="allow")

    prompt: str = Field(min_length=1, max_length=4000)
    duration: float = Field(default=10, gt=0, le=300)  # seconds
    output_format: Literal["wav", "mp3", "flac"] = "wav"
    seed: int | None = None


class VideoConfig(BaseModel):
    """A video generation, as Amazon Nova Reel takes it (text 1-512 characters, 24 fps, 1280x720)."""

    model_config = ConfigDict(defer_build=True, strict=True, extra="allow")

    prompt: str = Field(min_length=1, max_length=512)
    duration: int = Field(default=6, ge=6, le=120, multiple_of=6)  # seconds
    fps: Literal[24] = 24
    dimension: Literal["1280x720"] = "1280x720"
    output_format: Literal["mp4"] = "mp4"
    seed: int | None = Field(default=None, ge=0, le=2_147_483_646)


class GenerationRequest(BaseModel):
    model_config = ConfigDict(defer_build=True, strict=True, extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    config: dict[str, Any]
    webhook: WebhookRequest | None = Field(default=None, exclude=True)
    # The task's class (asyncinfer.domain.lanes) and deadlines (asyncinfer.domain.deadlines), checked there.
    service_tier: str | None = Field(default=None, description=TIER_DOC)
    start_timeout: float | None = Field(default=None, exclude=True, description=START_DOC)
    execution_timeout: float | None = Field(default=None, exclude=True, description=EXECUTION_DOC)
    complete_by: int | str | None = Field(default=None, exclude=True, description=COMPLETE_BY_DOC)


def parse_generation(data: dict[str, Any]) -> GenerationRequest:
    fields.check_known(data, fields.GENERATION)
    try:
        return GenerationRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc)) from None


def parse_media_config(kind: str, config: dict[str, Any]) -> ImageConfig | AudioConfig | VideoConfig:
    model = {"image": ImageConfig, "audio": AudioConfig, "video": VideoConfig}[kind]
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        raise InvalidRequest(validation_message(exc, prefix="config.")) from None
