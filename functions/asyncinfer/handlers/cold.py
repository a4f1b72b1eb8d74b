"""A function's cold start: its module's imports run with the cyclic garbage collector paused, and what they
made is then frozen out of its reach (`gc.freeze`). Modules, classes and functions live as long as the
process, so collecting among them is pure cost: about 30-45 ms of each function's import, several full
collections over objects none of which is garbage (docs/internals/decisions.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cold_start() -> Iterator[None]:
    """Pause collection while the block runs, then freeze what exists and resume. Nested, or with
    collection already off (a caller's own choice), it changes nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
