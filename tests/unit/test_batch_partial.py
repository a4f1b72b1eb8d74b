"""A batch's results while it runs (asyncinfer.tasks.batch_partial): the settle window, the cursor, and the
finishing order the tracker records (fakes: the store keeps endings in key order, as DynamoDB does)."""

from types import SimpleNamespace

import pytest

from asyncinfer.domain.batches import item_task_id
from asyncinfer.domain.errors import InvalidRequest
from asyncinfer.domain.model import Task, TaskError, TaskKind, TaskStatus, new_task_id
from asyncinfer.domain.records import Batch, BatchStatus
from asyncinfer.store.batch_ends import BatchEnd
from asyncinfer.store.dynamodb_batch_ends import end_key
from asyncinfer.surfaces import openai_batches as view
from asyncinfer.surfaces import webhooks
from asyncinfer.tasks.batch_partial import SETTLE_MS, PartialResults
from asyncinfer.tasks.batch_tracker import BatchTracker
from asyncinfer.tasks.payloads import Payloads

T0 = 1_800_000_000_000


class Store:
    """Endings by their sort key, read in key order; tasks by id."""

    def __init__(self) -> None:
        self.ends: dict[str, BatchEnd] = {}
        self.tasks: dict[str, Task] = {}
        self.counted = 0

    def put_batch_end(self, tenant, batch_id, end, expires_at):
        self.ends[end_key(batch_id, end.ended_ms, end.index)] = end

    def batch_ends(self, tenant, batch_id, *, after, until_ms, limit):
        low = end_key(batch_id, *after) if after else ""
        keys = sorted(k for k in self.ends if k.startswith(f"bend#{batch_id}#") and k > low)
        found = [self.ends[k] for k in keys if until_ms is None or self.ends[k].ended_ms <= until_ms]
        return found[:limit]

    def get_tasks(self, tenant, ids):
        return {i: self.tasks[i] for i in ids if i in self.tasks}

    def count_item(self, task):
        self.counted += 1
        return None


def batch(status=BatchStatus.IN_PROGRESS, total=10) -> Batch:
    return Batch(
        id=new_task_id(T0), tenant="acme", endpoint="/v1/async", total=total, created_at=T0, updated_at=T0,
        input_key="in", status=status,
    )  # fmt: skip


def end(store: Store, b: Batch, index: int, at: int, status=TaskStatus.COMPLETED) -> Task:
    """Item `index` of `b` ended at `at`, as the notifier records it."""
    task = Task(
        id=item_task_id(b.id, index), tenant="acme", kind=TaskKind.CHAT, model="m", status=status,
        created_at=T0, updated_at=at, batch_id=b.id, batch_index=index, custom_id=f"c{index}",
        completed_at=at if status == TaskStatus.COMPLETED else None,
        failed_at=at if status == TaskStatus.FAILED else None,
        error=TaskError(code="upstream_error", message="no") if status == TaskStatus.FAILED else None,
    )  # fmt: skip
    store.tasks[task.id] = task
    tracker(store).item_ended(task)
    return task


def tracker(store: Store) -> BatchTracker:
    payloads = Payloads(webhooks.task_data, view.render, view.result_line, view.file_line)
    return BatchTracker(
        store, blobs=None, webhooks=None, result_of=lambda t: {"answer": t.custom_id}, payloads=payloads
    )


def partial(store: Store) -> PartialResults:
    return PartialResults(store, lambda t: {"answer": t.custom_id}, view.result_line)


def test_an_ending_told_again_is_recorded_once_before_it_is_counted():
    store, b = Store(), batch()
    task = end(store, b, 3, T0 + 5)
    tracker(store).item_ended(task)
    assert list(store.ends) == [end_key(b.id, T0 + 5, 3)] and store.counted == 2


def test_while_a_batch_runs_the_endings_of_the_settle_window_are_held_back():
    store, b = Store(), batch()
    end(store, b, 0, T0 + 100)
    end(store, b, 1, T0 + 200, TaskStatus.FAILED)
    now = T0 + 200 + SETTLE_MS - 1  # item 1 ended less than the window ago
    page = partial(store).page(b, after=None, limit=10, now=now)
    assert [line["custom_id"] for line in page.lines] == ["c0"] and not page.ended
    assert page.lines[0]["response"] == {"answer": "c0"} and page.lines[0]["ended_at"] == T0 + 100
    later = partial(store).page(b, after=page.last, limit=10, now=now + 1)
    assert [line["custom_id"] for line in later.lines] == ["c1"]
    assert later.lines[0]["error"]["code"] == "upstream_error" and later.lines[0]["response"] is None


def test_once_the_batch_ended_nothing_is_held_back():
    store, b = Store(), batch()
    end(store, b, 0, T0 + 100)
    done = b.model_copy(update={"status": BatchStatus.COMPLETED})
    page = partial(store).page(done, after=None, limit=10, now=T0 + 100)
    assert [line["custom_id"] for line in page.lines] == ["c0"] and page.ended and not page.has_more


def test_pages_follow_endings_recorded_late_and_out_of_order_without_a_gap_or_a_repeat():
    store, b = Store(), batch(total=30)
    reader, seen, after, now = partial(store), [], None, T0
    # Endings arrive in bursts; within a burst the later-recorded ones ended a little earlier.
    for burst in range(6):
        now += 1000
        for k in range(5):
            end(store, b, burst * 5 + k, now - 10 * k)
            while True:  # read between every two endings
                page = reader.page(b, after=after, limit=2, now=now)
                seen += [line["custom_id"] for line in page.lines]
                after = page.last
                if not page.has_more:
                    break
    done = b.model_copy(update={"status": BatchStatus.COMPLETED})
    while True:
        page = reader.page(done, after=after, limit=4, now=now)
        seen += [line["custom_id"] for line in page.lines]
        after = page.last
        if not page.has_more:
            break
    assert sorted(seen) == sorted(f"c{i}" for i in range(30)) and len(set(seen)) == 30


def test_an_empty_page_keeps_the_cursor():
    store, b = Store(), batch()
    end(store, b, 0, T0)
    first = partial(store).page(b, after=None, limit=5, now=T0 + SETTLE_MS)
    again = partial(store).page(b, after=first.last, limit=5, now=T0 + SETTLE_MS)
    assert again.lines == [] and again.last == first.last


@pytest.mark.parametrize("cursor", ["x", "", "1.2.3", f"{'0' * 32}.{T0:013d}.000001"])
def test_a_cursor_this_batch_never_returned_is_refused(cursor):
    store, b = Store(), batch()
    with pytest.raises(InvalidRequest):
        partial(store).page(b, after=cursor, limit=5)


@pytest.mark.parametrize("limit", [0, 101])
def test_a_limit_out_of_range_is_refused(limit):
    with pytest.raises(InvalidRequest):
        partial(Store()).page(batch(), after=None, limit=limit)


def test_a_line_is_the_results_files_line_with_its_end():
    store, b = Store(), batch(status=BatchStatus.COMPLETED)
    task = end(store, b, 7, T0 + 1)
    (line,) = partial(store).page(b, after=None, limit=1).lines
    assert line == {**view.result_line("c7", task, {"answer": "c7"}), "ended_at": T0 + 1}


def test_the_ending_of_an_item_without_a_time_of_its_own_is_its_last_update():
    store, b = Store(), batch()
    task = SimpleNamespace(
        tenant="acme", batch_id=b.id, batch_index=2, status=TaskStatus.CANCELLED, error=None, expires_at=None,
        completed_at=None, failed_at=None, cancelled_at=None, updated_at=T0 + 9, batch_round=None,
    )  # fmt: skip
    tracker(store).item_ended(task)
    assert list(store.ends) == [end_key(b.id, T0 + 9, 2)]
