"""One worker invocation that keeps its instance full: the event's messages first, then, while it has time,
memory and free slots, more messages it receives from the same queue itself, each run in a slot of its own.
Before its end it stops receiving and hands back what has not started (docs/architecture.md, the worker)."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from asyncinfer.domain.backoff import retry_delay
from asyncinfer.queue.base import TaskMessage, parse_message
from asyncinfer.queue.refill import MOST_PER_CALL, Delivery, LaneQueue
from asyncinfer.tasks.long_slots import WaitForSlot
from asyncinfer.tasks.outcomes import RetryLater

log = logging.getLogger(__name__)

Run = Callable[[TaskMessage], str]


@dataclass(frozen=True)
class SlotPolicy:
    slots: int  # tasks running at once in one invocation
    refill: bool  # receive more messages as slots free (else only the event's run)
    horizon_ms: int  # more messages are received only while more than this is left of the invocation
    drain_ms: int  # with less than this left, nothing more starts: what has not started is handed back
    wait_seconds: int = 1  # a receive's long poll, while tasks run (an idle instance never waits for messages)
    memory_limit_bytes: int = 0  # no receive while the process holds more than this (0: no limit)
    retry_base_seconds: float = 2
    retry_max_seconds: float = 300


def rss_bytes() -> int | None:
    """The process's resident memory now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Died(Exception):
    """Wraps what killed a task's thread (not an Exception: the instance is dying)."""


class Instance:
    """Runs one invocation's deliveries: `serve` returns the ids of the event's messages to report failed.

    A message ends as the event source would end it: done with (deleted: the event's by the event source,
    received ones here), held back for its retry's delay, sent again for a long-task slot, or left for the
    visibility timeout after an unexpected error."""

    def __init__(
        self,
        run: Run,
        lane: LaneQueue | None,
        policy: SlotPolicy,
        remaining_ms: Callable[[], int],
        pool: Executor,
        rss: Callable[[], int | None] = rss_bytes,
    ) -> None:
        self._run, self._lane, self._policy = run, lane, policy
        self._remaining, self._pool, self._rss = remaining_ms, pool, rss
        self._changed = threading.Condition()
        self._running: dict[Future, tuple[Delivery, bool]] = {}
        self._to_delete: list[str] = []
        self._failed: list[str] = []
        self._died: BaseException | None = None
        self.counts: Counter[str] = Counter()
        self.received = 0  # messages this invocation received itself
        self.most_running = 0
        self._ended = 0  # tasks ended so far: a wait begins only if none ended since the waiter looked
        # Receive when a quarter of the slots is free (at most a call's worth), not at each slot: a receive
        # and a delete per task would cost twice the event source's SQS requests.
        self._receive_at = min(MOST_PER_CALL, max(1, -(-policy.slots // 4)))

    def serve(self, records: list[Delivery]) -> list[str]:
        for record in records:
            self._start(record, own=False)
        if self._lane is not None and self._policy.refill:
            self._refill()
        self._wait_all()
        return self._failed

    def _refill(self) -> None:
        while True:
            seen = self._ended
            self._check()
            if self._remaining() <= max(self._policy.horizon_ms, self._policy.drain_ms):
                return
            free = self._policy.slots - len(self._running)
            if free < self._receive_at or self._over_memory():
                if not self._running:
                    return  # memory held by nothing this invocation runs: receive no more
                self._wait_change(seen)
                continue
            # A long poll only once this invocation's own receives found a backlog: the first is a short one, as
            # a poll that waits on an empty queue holds the invocation open past its last task (billed, idle).
            wait = self._policy.wait_seconds if self._running and self.received else 0
            try:
                got = self._lane.receive(min(free, MOST_PER_CALL), wait)
            except Exception:
                log.warning("could not receive more messages; the event source will deliver them", exc_info=True)
                return
            if not got:
                return
            self.received += len(got)
            for delivery in got:
                self._start(delivery, own=True)

    def _over_memory(self) -> bool:
        if not self._policy.memory_limit_bytes:
            return False
        rss = self._rss()
        return rss is not None and rss >= self._policy.memory_limit_bytes

    def _start(self, delivery: Delivery, *, own: bool) -> None:
        """Run `delivery` in a slot once one is free; past the drain point, hand it back instead."""
        while len(self._running) >= self._policy.slots:
            seen = self._ended
            self._check()
            if self._remaining() < self._policy.drain_ms:
                handed = self._hand_back(delivery)
                with self._changed:
                    self._settled(delivery, own, handed, "MessagesHandedBack")
                return
            self._wait_change(seen)
        self._check()
        with self._changed:
            future = self._pool.submit(contextvars.copy_context().run, self._task, delivery, own)
            self._running[future] = (delivery, own)
            self.most_running = max(self.most_running, len(self._running))
        future.add_done_callback(self._done)

    def _task(self, delivery: Delivery, own: bool) -> tuple[bool, str | None]:
        if self._remaining() < self._policy.drain_ms:
            return self._hand_back(delivery), "MessagesHandedBack"
        try:
            return self._settle(delivery)
        except Exception:
            raise
        except BaseException as died:
            raise _Died() from died

    def _settle(self, delivery: Delivery) -> tuple[bool, str | None]:
        """(done with the message, the metric it counts in)."""
        message = parse_message(delivery.body)
        if message is None:
            log.error("dropping malformed message %s", delivery.message_id)
            return True, "MalformedMessages"
        try:
            outcome = self._run(message)
        except RetryLater as retry:
            left = retry.lease_left_ms
            at_least = -(-left // 1000) + 1 if left > 0 else 0
            delay = retry_delay(
                delivery.receives, base=self._policy.retry_base_seconds, cap=self._policy.retry_max_seconds
            )
            self._hold(delivery, max(delay, at_least))
            return False, "TasksRetried"
        except WaitForSlot as wait:
            try:
                if self._lane is None:
                    raise RuntimeError("no queue to send the message to")
                self._lane.send_again(delivery, wait.delay_seconds)
            except Exception:
                # It comes back all the same, counting one receive.
                log.warning("could not send the waiting task's message again", exc_info=True)
                self._hold(delivery, wait.delay_seconds)
                return False, "TasksWaiting"
            return True, "TasksWaiting"
        except Exception:
            log.exception("task %s failed; its message comes back after the visibility timeout", message.task_id)
            return False, None
        return True, f"Tasks{outcome.capitalize()}"

    def _hold(self, delivery: Delivery, seconds: int) -> None:
        if self._lane is not None:
            self._lane.hold(delivery.receipt_handle, seconds)

    def _hand_back(self, delivery: Delivery) -> bool:
        """Not started before the drain: for an instance with time to run it, as a new message (True: this one is
        done with), so a hand-back spends none of the message's receives before the dead-letter queue; if the
        send fails, this one visible again at once (False)."""
        if self._lane is not None:
            try:
                self._lane.send_again(delivery, 0)
                return True
            except Exception:
                log.warning("could not hand the message back as a new one; it is visible again", exc_info=True)
        self._hold(delivery, 0)
        return False

    def _settled(self, delivery: Delivery, own: bool, done: bool, metric: str | None) -> None:
        if metric:
            self.counts[metric] += 1
        if done and own:
            self._to_delete.append(delivery.receipt_handle)
        elif not done and not own:
            self._failed.append(delivery.message_id)

    def _done(self, future: Future) -> None:
        with self._changed:
            delivery, own = self._running.pop(future)
            if future.cancelled():
                self._settled(delivery, own, self._hand_back(delivery), "MessagesHandedBack")
            elif isinstance(died := future.exception(), _Died):
                self._died = died.__cause__
            elif future.exception() is not None:
                log.error("a task's thread failed", exc_info=future.exception())
                self._settled(delivery, own, False, None)
            else:
                self._settled(delivery, own, *future.result())
            self._ended += 1
            self._changed.notify_all()

    def _wait_change(self, seen: int) -> None:
        """Until a task ends or the drain point comes; deletes what ended meanwhile, a call's worth at a time."""
        until_drain = (self._remaining() - self._policy.drain_ms) / 1000
        with self._changed:
            if self._running and self._died is None and self._ended == seen:
                self._changed.wait(timeout=max(0.05, min(until_drain, 1.0)) if until_drain > 0 else 0.05)
        if len(self._to_delete) >= MOST_PER_CALL:
            self._flush_deletes()

    def _wait_all(self) -> None:
        drained = False
        while True:
            seen = self._ended
            if not self._running:
                break
            self._check()
            if not drained and self._remaining() < self._policy.drain_ms:
                drained = True
                for future in list(self._running):
                    future.cancel()  # only one not yet started: its message is handed back
            self._wait_change(seen)
        self._check()
        self._flush_deletes()

    def _flush_deletes(self) -> None:
        with self._changed:
            handles, self._to_delete = self._to_delete, []
        if handles and self._lane is not None:
            self._lane.delete(handles)

    def _check(self) -> None:
        """A task's thread died as the instance would (the runtime's process gone): so does the invocation."""
        if self._died is not None:
            raise self._died
