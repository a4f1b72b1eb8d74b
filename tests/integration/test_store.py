import itertools

import pytest

from asyncinfer.domain.model import ALLOWED, Task, TaskKind, TaskStatus, new_task_id, now_ms, sources_of
from asyncinfer.store.base import AlreadyExists, ApiKeyRecord, ConditionFailed, NameClaim, NameRecord, NameTaken

pytestmark = pytest.mark.integration
S = TaskStatus


def make_task(tenant="acme", status=S.CREATED, at=None, **extra) -> Task:
    at = at or now_ms()
    fields = {
        "id": new_task_id(at),
        "tenant": tenant,
        "kind": TaskKind.CHAT,
        "model": "demo-chat",
        "status": status,
        "created_at": at,
        "updated_at": at,
        "request": {"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5},
    }
    return Task(**{**fields, **extra})


def test_create_get_round_trip_keeps_structured_fields(aws):
    task = make_task(metadata={"team": "a"})
    aws.store.create(task)
    assert aws.store.get("acme", task.id) == task
    assert aws.store.get("other", task.id) is None
    with pytest.raises(AlreadyExists):
        aws.store.create(task)


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(TaskStatus, TaskStatus) if pair[1] not in ALLOWED[pair[0]]],
)
def test_the_store_refuses_every_illegal_transition(aws, current, target):
    task = make_task(status=current)
    aws.store.create(task)
    with pytest.raises(ConditionFailed) as lost:
        aws.store.transition("acme", task.id, expect=sources_of(target), changes={"status": target})
    assert lost.value.current == task  # the old item comes back without a second read
    assert aws.store.get("acme", task.id).status == current


def test_compare_and_set_on_attempt_lets_exactly_one_claim_win(aws):
    task = make_task()
    aws.store.create(task)
    claim = {
        "expect": sources_of(S.IN_PROGRESS),
        "attempt": 0,
        "lease_expired_at": now_ms(),
        "changes": {"status": S.IN_PROGRESS, "attempt": 1, "lease_expires_at": now_ms() + 60_000},
    }
    won = aws.store.transition("acme", task.id, **claim)
    assert (won.status, won.attempt) == (S.IN_PROGRESS, 1)
    with pytest.raises(ConditionFailed) as lost:
        aws.store.transition("acme", task.id, **claim)
    assert lost.value.current.attempt == 1


def test_reclaim_needs_an_expired_lease(aws):
    now = now_ms()
    task = make_task(status=S.IN_PROGRESS, attempt=1, lease_expires_at=now + 60_000)
    aws.store.create(task)
    reclaim = {"expect": sources_of(S.IN_PROGRESS), "attempt": 1, "changes": {"status": S.IN_PROGRESS, "attempt": 2}}
    with pytest.raises(ConditionFailed):
        aws.store.transition("acme", task.id, lease_expired_at=now, **reclaim)
    assert aws.store.transition("acme", task.id, lease_expired_at=now + 60_001, **reclaim).attempt == 2


def test_transition_of_a_missing_task_reports_none(aws):
    with pytest.raises(ConditionFailed) as lost:
        aws.store.transition("acme", new_task_id(), expect={S.CREATED}, changes={"status": S.CANCELLED})
    assert lost.value.current is None


def test_list_is_newest_first_paginated_filtered_and_per_tenant(aws):
    base = now_ms() - 10_000
    mine = [make_task(at=base + i, status=S.COMPLETED if i % 2 else S.CREATED) for i in range(7)]
    for task in mine:
        aws.store.create(task)
    aws.store.create(make_task(tenant="other", at=base + 100))
    expected = [t.id for t in reversed(mine)]

    seen, after = [], None
    while True:
        page = aws.store.list("acme", limit=3, after=after, status=None)
        seen += [t.id for t in page.tasks]
        after = page.next_cursor
        if after is None:
            break
    assert seen == expected

    completed = aws.store.list("acme", limit=10, after=None, status=S.COMPLETED)
    assert [t.id for t in completed.tasks] == [t.id for t in reversed(mine) if t.status == S.COMPLETED]
    assert completed.next_cursor is None
    assert [t.tenant for t in aws.store.list("other", limit=10, after=None, status=None).tasks] == ["other"]


def test_events_append_in_batches_idempotently_and_read_in_order(aws):
    task = make_task()
    aws.store.append_events("acme", task.id, 1, [{"type": "delta", "text": "a"}, {"type": "delta", "text": "b"}])
    aws.store.append_events("acme", task.id, 3, [{"type": "delta", "text": "c"}])
    aws.store.append_events("acme", task.id, 3, [{"type": "delta", "text": "c"}])  # a retried flush
    assert [(e["seq"], e["text"]) for e in aws.store.read_events("acme", task.id)] == [(1, "a"), (2, "b"), (3, "c")]
    assert [e["seq"] for e in aws.store.read_events("acme", task.id, after_seq=2)] == [3]
    assert aws.store.read_events("other", task.id) == []


def test_api_keys_by_hash(aws):
    record = ApiKeyRecord(key_hash="ab" * 32, tenant="acme", created_at=1)
    aws.store.put_api_key(record)
    assert aws.store.get_api_key("ab" * 32) == record
    assert aws.store.get_api_key("cd" * 32) is None
    with pytest.raises(AlreadyExists):
        aws.store.put_api_key(record)


def test_names_are_claimed_with_the_task_atomically(aws):
    first, second = make_task(), make_task()
    claim = NameClaim("idem", "key-1", "fp-1")
    aws.store.create(first, [claim, NameClaim("msg", "my-id", "fp-1")])
    assert aws.store.get_name("acme", "idem", "key-1") == NameRecord("idem", "key-1", first.id, "fp-1")
    assert aws.store.get_name("acme", "msg", "my-id").task_id == first.id
    assert aws.store.get_name("other", "idem", "key-1") is None

    with pytest.raises(NameTaken) as taken:
        aws.store.create(second, [NameClaim("msg", "fresh", "fp-2"), claim])
    assert taken.value.claim == claim
    # Nothing of the losing submit was written.
    assert aws.store.get("acme", second.id) is None
    assert aws.store.get_name("acme", "msg", "fresh") is None

    with pytest.raises(AlreadyExists):
        aws.store.create(first, [NameClaim("idem", "key-2", "fp")])
    assert aws.store.get_name("acme", "idem", "key-2") is None


def test_withdrawing_a_task_releases_its_names_only_from_the_expected_status(aws):
    task, claim = make_task(), NameClaim("idem", "k", "fp")
    aws.store.create(task, [claim])
    aws.store.delete_if("acme", task.id, expect={S.IN_PROGRESS}, names=[claim])
    assert aws.store.get("acme", task.id) is not None and aws.store.get_name("acme", "idem", "k") is not None
    aws.store.delete_if("acme", task.id, expect={S.CREATED}, names=[claim])
    assert aws.store.get("acme", task.id) is None and aws.store.get_name("acme", "idem", "k") is None


def test_soft_delete_drops_the_payloads_and_hides_the_task_from_lists(aws):
    kept, gone = make_task(), make_task(status=S.COMPLETED, result={"choices": []}, result_key="results/x")
    aws.store.create(kept)
    aws.store.create(gone)
    deleted = aws.store.mark_deleted("acme", gone.id, at=123)
    assert deleted.deleted_at == 123 and deleted.status == S.COMPLETED
    assert deleted.request is None and deleted.result is None and deleted.result_key is None
    with pytest.raises(ConditionFailed) as again:
        aws.store.mark_deleted("acme", gone.id, at=456)
    assert again.value.current.deleted_at == 123
    with pytest.raises(ConditionFailed) as missing:
        aws.store.mark_deleted("acme", make_task().id, at=1)
    assert missing.value.current is None
    assert [t.id for t in aws.store.list("acme", limit=10, after=None, status=None).tasks] == [kept.id]
    assert aws.store.list("acme", limit=10, after=None, status=S.COMPLETED).tasks == []
