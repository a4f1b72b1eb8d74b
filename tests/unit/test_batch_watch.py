"""The part runner's watch of a `complete_by` batch (asyncinfer.runner.batch_watch): the job's expected finish
(cheap_finish), and at a poll, whether to stop the job and move the remaining items to a class, or when to look
again (never past the latest switch). Without `complete_by` it decides as the default watch."""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncinfer.domain.catalog import BatchApi, ModelRegistry
from asyncinfer.domain.model import ServiceTier
from asyncinfer.domain.records import Batch, BatchEndpoint, BatchStatus
from asyncinfer.domain.tenants import TenantSettings
from asyncinfer.providers.batch_jobs import BatchJobState
from asyncinfer.runner.batch_jobs import Look
from asyncinfer.runner.batch_watch import cheap_finish, escalate_when_late

NOW = 1_800_000_000_000


def registry(item_seconds: float | None = 2, expected_seconds: int | None = None) -> ModelRegistry:
    batch: dict = {"api": "bedrock", "min_records": 10, "poll_seconds": 30}
    if expected_seconds is not None:
        batch["expected_seconds"] = expected_seconds
    model = {
        "provider": "local",
        "upstream": "demo-chat",
        "kind": "chat",
        "prices": {"input_per_million": 3, "output_per_million": 15},
        "batch": batch,
        "batch_prices": {"input_per_million": 1.5, "output_per_million": 7.5},
    }
    if item_seconds is not None:
        model["item_seconds"] = item_seconds
    return ModelRegistry.model_validate({"version": 1, "providers": {}, "models": {"m": model}})


@dataclass
class Capacity:
    default_lane_slots: int = 20
    priority_lane_slots: int = 0
    demo_chat_seconds: float = 3.0


@dataclass
class Tenants:
    settings: TenantSettings = field(default_factory=TenantSettings)

    def get_settings(self, tenant: str) -> TenantSettings:
        return self.settings


def batch(total: int = 20, complete_by: int | None = NOW + 60_000, **extra) -> Batch:
    return Batch(
        id="b" * 32,
        tenant="acme",
        endpoint=BatchEndpoint.CHAT_COMPLETIONS,
        total=total,
        created_at=NOW - 10_000,
        updated_at=NOW - 10_000,
        input_key="in",
        complete_by=complete_by,
        **extra,
    )


def running(processed: int = 0, total: int = 20, started_ms: int | None = NOW - 10_000) -> BatchJobState:
    return BatchJobState("running", "InProgress", processed, total, started_ms=started_ms)


def test_cheap_finish_extrapolates_the_pace_so_far_then_falls_back_on_the_usual_turnaround():
    api = BatchApi(api="bedrock", expected_seconds=300)
    assert cheap_finish(running(processed=5, total=20), api, NOW) == NOW - 10_000 + 40_000, "a quarter in 10 s"
    assert cheap_finish(running(processed=0), api, NOW) == NOW - 10_000 + 300_000, "nothing processed yet"
    assert cheap_finish(running(processed=0), BatchApi(api="bedrock"), NOW) is None, "no estimate at all"
    assert cheap_finish(running(started_ms=None), api, NOW) is None, "no start known"


def test_without_complete_by_the_watch_is_the_default_one():
    watch = escalate_when_late(Capacity(), Tenants(), registry())
    assert watch(batch(complete_by=None), running(), NOW, "m") == Look(stop=False)
    assert watch(None, running(), NOW, "m") == Look(stop=True), "a batch gone"
    cancelling = batch(complete_by=NOW + 10**9, status=BatchStatus.CANCELLING)
    assert watch(cancelling, running(), NOW, "m") == Look(stop=True), "cancelling: stopped, not escalated"


def test_a_job_expected_past_complete_by_escalates_at_once_to_the_default_class():
    # 20 items of 2 s on 20 slots, margin 2: 4 s on demand; the job, a quarter done in 10 s, ends at +30 s.
    watch = escalate_when_late(Capacity(), Tenants(), registry())
    look = watch(batch(complete_by=NOW + 20_000), running(processed=5), NOW, "m")
    assert look == Look(stop=True, escalate="default", within_seconds=1)


def test_at_the_latest_switch_it_escalates_even_when_the_job_looks_on_time():
    watch = escalate_when_late(Capacity(), Tenants(), registry())
    state = running(processed=19)  # ends in about half a second
    assert watch(batch(complete_by=NOW + 4_000), state, NOW, "m").escalate == "default", "4 s left, 4 s needed"
    assert watch(batch(complete_by=NOW + 4_001), state, NOW, "m").stop is False


def test_a_job_on_time_is_looked_at_again_no_later_than_the_latest_switch():
    watch = escalate_when_late(Capacity(), Tenants(), registry())
    state = running(processed=19)
    assert watch(batch(complete_by=NOW + 10_000), state, NOW, "m") == Look(stop=False, within_seconds=6)
    far = watch(batch(complete_by=NOW + 3_600_000), state, NOW, "m")
    assert far == Look(stop=False, within_seconds=30), "the model's poll interval"
    windowed = batch(complete_by=NOW + 3_600_000, deadline_at=NOW + 7_000)
    assert watch(windowed, state, NOW, "m").within_seconds == 7, "the window's end comes first"


def test_only_the_remaining_items_count():
    watch = escalate_when_late(Capacity(default_lane_slots=1), Tenants(), registry())
    # 20 items one at a time: 80 s on demand; with 18 ended, 8 s.
    assert watch(batch(complete_by=NOW + 60_000), running(processed=19), NOW, "m").escalate == "default"
    half_done = batch(complete_by=NOW + 60_000, completed=18)
    assert watch(half_done, running(processed=19), NOW, "m").stop is False


def test_priority_when_the_default_class_cannot_make_it_and_the_tenant_may_use_it():
    late = batch(total=100, complete_by=NOW + 10_000)  # 100 items of 2 s on 20 slots: 20 s
    state = running(processed=0)
    assert escalate_when_late(Capacity(), Tenants(), registry())(late, state, NOW, "m").escalate == "default"
    capacity = Capacity(default_lane_slots=20, priority_lane_slots=50)
    assert escalate_when_late(capacity, Tenants(), registry())(late, state, NOW, "m").escalate == "priority"
    barred = Tenants(TenantSettings(classes=frozenset({ServiceTier.DEFAULT, ServiceTier.FLEX})))
    assert escalate_when_late(capacity, barred, registry())(late, state, NOW, "m").escalate == "default"


def test_a_demo_model_without_item_seconds_runs_at_the_demo_pace():
    watch = escalate_when_late(Capacity(demo_chat_seconds=1.0), Tenants(), registry(item_seconds=None))
    state = running(processed=19)
    assert watch(batch(complete_by=NOW + 2_000), state, NOW, "m").escalate == "default", "20 items of 1 s: 2 s"
    assert watch(batch(complete_by=NOW + 2_001), state, NOW, "m").stop is False
