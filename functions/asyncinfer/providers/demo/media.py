"""Offline demo media models: a real PNG drawn from the prompt at the requested size, a real WAV of the
requested duration. Deterministic (same prompt and seed, same bytes), standard library only."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import time
import wave
import zlib
from array import array
from collections.abc import Iterator
from typing import Any

from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.generation import AudioConfig, ImageConfig, parse_media_config
from asyncinfer.domain.model import TaskKind
from asyncinfer.providers.base import MediaFile, ProviderError
from asyncinfer.providers.demo.chat import FAILING_MODEL, demo_failure

SAMPLE_RATE = 16_000


def _seed(prompt: str, seed: int | None, index: int = 0) -> bytes:
    return hashlib.sha256(f"{prompt}\x00{seed}\x00{index}".encode()).digest()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def render_png(prompt: str, width: int, height: int, seed: int | None = None, index: int = 0) -> bytes:
    """An RGB gradient whose colours come from the prompt: left-to-right between two colours, shifted
    row by row (each row is one bytes.translate of the first, so even 2048² takes milliseconds)."""
    digest = _seed(prompt, seed, index)
    start, end = digest[0:3], digest[3:6]
    base = bytearray()
    for x in range(width):
        t = x / max(width - 1, 1)
        base += bytes(int(a + (b - a) * t) for a, b in zip(start, end, strict=True))
    base = bytes(base)
    step = 1 + digest[6] % 3
    raw = bytearray()
    for y in range(height):
        shift = (y * step * 256 // max(height, 1)) % 256
        table = bytes((v + shift) % 256 for v in range(256))
        raw += b"\x00" + base.translate(table)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    text = b"Description\x00" + prompt.encode("latin-1", "replace")[:1000]
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"tEXt", text)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _chunk(b"IEND", b"")
    )


def render_wav(prompt: str, seconds: float, seed: int | None = None) -> bytes:
    """16 kHz mono 16-bit PCM: two tones picked from the prompt, alternating every half second."""
    digest = _seed(prompt, seed)
    periods = (20 + digest[0] % 60, 20 + digest[1] % 60)  # 200 to 800 Hz, whole samples per period
    half = SAMPLE_RATE // 2
    second = array("h")
    for period in periods:
        cycle = array("h", (int(8000 * _sine(i / period)) for i in range(period)))
        tone = cycle * (half // period + 1)
        second.extend(tone[:half])
    total = int(seconds * SAMPLE_RATE)
    samples = second * (total // SAMPLE_RATE + 1)
    del samples[total:]
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def _sine(turns: float) -> float:
    return math.sin(2 * math.pi * turns)


class DemoMediaProvider:
    """Images and audio for `make dev` and tests; `seconds` paces each file so progress can be watched."""

    def __init__(self, seconds: float = 0.0) -> None:
        self._seconds = seconds

    def generate(self, upstream_model: str, kind: TaskKind, config: dict[str, Any]) -> Iterator[MediaFile]:
        if upstream_model == FAILING_MODEL:
            raise demo_failure()
        try:
            parsed = parse_media_config(kind.value, config)
        except InvalidRequest as exc:
            raise ProviderError("invalid_request", exc.message, retryable=False) from None
        if isinstance(parsed, ImageConfig):
            width, height = parsed.size()
            for index in range(parsed.num_images):
                if self._seconds:
                    time.sleep(self._seconds)
                body = render_png(parsed.prompt, width, height, parsed.seed, index)
                yield MediaFile(body=body, content_type="image/png", extension="png", file_type="image")
        elif isinstance(parsed, AudioConfig):
            if self._seconds:
                time.sleep(self._seconds)
            body = render_wav(parsed.prompt, parsed.duration, parsed.seed)
            yield MediaFile(
                body=body, content_type="audio/wav", extension="wav", file_type="audio", seconds=parsed.duration
            )
        else:  # pragma: no cover - parse_media_config only returns the two
            raise ProviderError("unsupported_kind", f"The demo model makes no {kind.value}", retryable=False)
