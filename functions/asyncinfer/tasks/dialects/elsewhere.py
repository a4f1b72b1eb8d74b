"""Where an id that was not found here is read, when its form says it is another surface's: a NetMind
generation id sent to /v1/async, an Async API task id sent to /v1/generation, a batch id sent to a task route.

Judged by the id's form alone, never by a lookup, so the hint tells nothing about any task: the answer is
the same 404 with or without one. Chat ids in any chat surface's spelling are read on every chat surface
(asyncinfer.domain.ids), so among chat surfaces only a PrivateGPT message_id a client chose gets a hint."""

from __future__ import annotations

import re

from asyncinfer.domain.ids import spells_a_task_id

# The surfaces (as the API's tags name them) and what each shows.
ASYNC_API, PERPLEXITY, PRIVATEGPT, NETMIND, BATCHES = "Async API", "Perplexity", "PrivateGPT", "NetMind", "Batches"
FAMILY = {ASYNC_API: "chat", PERPLEXITY: "chat", PRIVATEGPT: "chat", NETMIND: "media", BATCHES: "batches"}

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# An id's form, the surface that shows ids of that form, and how the hint names it and where it is read.
FORMS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"^batch_"), BATCHES, "a batch id", "GET /v1/batches/{id}"),
    (re.compile(rf"^task_{_UUID}$"), ASYNC_API, "an Async API task id", "GET /v1/async/{id}"),
    (re.compile(rf"^{_UUID}$"), PERPLEXITY, "a Perplexity request id", "GET /async/chat/completions/{id}"),
    (re.compile(r"^msg_"), PRIVATEGPT, "a PrivateGPT message id", "GET /v1/messages/async/{id}/status"),
    (re.compile(r"^[0-9a-f]{32}$"), NETMIND, "a NetMind generation id", "GET /v1/generation/{id}"),
)


def hint(here: str, public: str | None) -> str | None:
    """`This looks like a NetMind generation id; read it at GET /v1/generation/{id}`, for an id of another
    surface's form that surface `here` could not have found; None otherwise."""
    if here not in FAMILY or not public:
        return None
    for form, owner, what, where in FORMS:
        if not form.match(public.lower()):
            continue
        if owner == here or (FAMILY[owner] == FAMILY[here] and spells_a_task_id(public)):
            return None  # its own, or another chat surface's spelling of a task id, which is read here too
        if owner == ASYNC_API and here == BATCHES:
            # Batch results and webhooks spell generations' ids this way too.
            where = f"{where} (a chat task) or GET /v1/generation/{{id}} (a generation)"
        return f"This looks like {what}; read it at {where}"
    return None
