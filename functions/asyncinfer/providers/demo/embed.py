"""The offline demo embedder: deterministic vectors from the text, no network. Each whitespace word seeds a
pseudo-random direction (from a hash of the word, lowercased); a text's vector is the sum of its words',
L2-normalised, so texts that share words point the same way and the same text always gives the same vector."""

from __future__ import annotations

import hashlib
import math
import random
from functools import lru_cache

from asyncinfer.providers.base import Embeddings, ProviderError, count_tokens

DEFAULT_DIMENSIONS = 256


@lru_cache(maxsize=4096)
def _direction(word: str, dimensions: int) -> tuple[float, ...]:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return tuple(rng.gauss(0.0, 1.0) for _ in range(dimensions))


def demo_vector(text: str, dimensions: int) -> list[float]:
    words = text.lower().split() or [text]
    total = [0.0] * dimensions
    for word in words:
        for i, value in enumerate(_direction(word, dimensions)):
            total[i] += value
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [v / norm for v in total]


class DemoEmbedder:
    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        self._dimensions = dimensions  # the model's own length, when a request asks for none

    def embed(
        self, upstream_model: str, texts: list[str], dimensions: int | None, user: str | None = None
    ) -> Embeddings:
        if upstream_model == "demo-fail":
            raise ProviderError("model_error", "The demo-fail model always fails (on purpose)", retryable=False)
        size = dimensions or self._dimensions
        vectors = [demo_vector(text, size) for text in texts]
        return Embeddings(vectors=vectors, prompt_tokens=sum(count_tokens(text) for text in texts))
