"""The store interface: tasks, their event logs and API keys. Every task change is a compare-and-set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from asyncinfer.domain.budgets import Budget, Period, UsageLine
from asyncinfer.domain.model import Task, TaskKind, TaskStatus
from asyncinfer.domain.records import Batch, BatchStatus, Delivery
from asyncinfer.domain.reservations import Hold, Settlement
from asyncinfer.domain.tenants import TenantSettings


class ConditionFailed(Exception):
    """A compare-and-set lost. `current` is the item as it was (None when it does not exist)."""

    def __init__(self, current: Task | None) -> None:
        super().__init__("condition failed")
        self.current = current


class HoldRefused(Exception):
    """A reservation did not fit: its period, and that period's ledger as it was (units of $1e-8)."""

    def __init__(self, period: Period, held_e8: int, reserved_e8: int) -> None:
        super().__init__(f"{period.value} hold refused")
        self.period = period
        self.held_e8 = held_e8
        self.reserved_e8 = reserved_e8


@dataclass(frozen=True)
class LedgerFigures:
    """One period's ledger (units of $0.00000001): spent + reserved, and reserved."""

    held_e8: int = 0
    reserved_e8: int = 0


class AlreadyExists(Exception):
    pass


@dataclass(frozen=True)
class NameClaim:
    """A per-tenant name a task is created under, besides its id: an idempotency key ("idem") or a
    client-chosen id ("msg"). It is claimed with the task, atomically, or not at all."""

    namespace: str
    value: str
    fingerprint: str


@dataclass(frozen=True)
class NameRecord:
    namespace: str
    value: str
    task_id: str
    fingerprint: str


class NameTaken(Exception):
    def __init__(self, claim: NameClaim) -> None:
        super().__init__(f"{claim.namespace} {claim.value!r} is taken")
        self.claim = claim


@dataclass(frozen=True)
class Due:
    """A deadline the sweeper watches: when, and whose task."""

    at_ms: int
    tenant: str
    task_id: str


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    next_cursor: str | None


@dataclass(frozen=True)
class ApiKeyRecord:
    key_hash: str
    tenant: str
    created_at: int
    # The value of the tenant's API Gateway key in the deployment's usage plan (its throttle), if any.
    usage_key: str | None = None
    # After this (epoch seconds) the key no longer authenticates; DynamoDB's TTL removes it later.
    expires_at: int | None = None

    @property
    def key_id(self) -> str:
        """What names the key in listings and revocations: the start of its hash, never the key."""
        return self.key_hash[:16]


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    tenant: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None


class TaskStore(Protocol):
    def create(self, task: Task, names: Sequence[NameClaim] = (), hold: Hold | None = None) -> None:
        """Insert a new task, claim its names and write its reservation `hold`, all or nothing; AlreadyExists
        if the id is taken, NameTaken if a name is, HoldRefused if the reservation does not fit."""

    def get_name(self, tenant: str, namespace: str, value: str) -> NameRecord | None: ...

    def hold_instance(self, pool: str, tenant: str, holder: str, *, until: int, limit: int, now: int) -> bool:
        """Take one of the tenant's `limit` holds in `pool` (requests keeping a function instance) until `until`,
        epoch seconds; False when all are held. Holds run out by themselves."""

    def free_instance(self, pool: str, tenant: str, holder: str) -> None: ...

    def get(self, tenant: str, task_id: str) -> Task | None: ...

    def list(
        self,
        tenant: str,
        *,
        limit: int,
        after: str | None,
        status: TaskStatus | None,
        kinds: Iterable[TaskKind] | None = None,
    ) -> Page:
        """The tenant's tasks newest first, starting after the task id `after`; deleted ones never."""

    def transition(
        self,
        tenant: str,
        task_id: str,
        *,
        expect: Iterable[TaskStatus],
        changes: dict[str, Any],
        attempt: int | None = None,
        lease_expired_at: int | None = None,
        remove: Iterable[str] = (),
    ) -> Task:
        """Apply `changes` only if the status is in `expect` (and the attempt matches, and, when the
        task is IN_PROGRESS, its lease expired before `lease_expired_at`). Returns the new task or
        raises ConditionFailed carrying the old one. A change to an end charges the task in the same
        transaction (asyncinfer.domain.reservations.charge_of): its usage line grows and its reservation is
        settled, once, exactly when it ends; the task it returns is then the task as read (or as this store
        last wrote it) with the end's changes, as a transaction returns no item."""

    def delete_if(
        self,
        tenant: str,
        task_id: str,
        *,
        expect: Iterable[TaskStatus],
        names: Sequence[NameClaim] = (),
        release: Settlement | None = None,
    ) -> None:
        """Remove a task that never became visible (e.g. its queue message could not be sent), with its names."""

    def mark_deleted(self, tenant: str, task_id: str, *, at: int) -> Task:
        """Soft delete: set deleted_at and drop the stored request and result. ConditionFailed if the task
        does not exist or was already deleted."""

    def append_events(
        self, tenant: str, task_id: str, first_seq: int, events: list[dict[str, Any]], expires_at: int | None = None
    ) -> None:
        """Store one batch of events numbered first_seq, first_seq + 1, …"""

    def delete_events(self, tenant: str, task_id: str) -> int:
        """Remove the task's whole event log (a deleted task's); how many stored batches went."""

    def read_events(self, tenant: str, task_id: str, after_seq: int = 0, scan_from: int = 0) -> list[dict[str, Any]]:
        """Events numbered above after_seq, in order, each with its "seq". Batches are stored whole, so a
        reader that has seen every event up to n can pass scan_from=n + 1 to skip the batches it read."""

    def count_submit(self, tenant: str, window: int, limit: int, expires_at: int) -> bool:
        """Count one submit in the tenant's window; False (and nothing counted) once `limit` is reached."""

    def rehold(self, task: Task, hold: Hold) -> None:
        """The running (or still waiting: as read) `task`'s reservation becomes `hold` (HoldRefused; ConditionFailed
        once not as read)."""

    def count_waiting(self, tenant: str, lane: str, limit: int) -> int:
        """The tenant's tasks waiting in `lane`, up to `limit`."""

    def get_settings(self, tenant: str) -> TenantSettings:
        """The tenant's settings (its budget, classes, waiting quotas); the defaults when it has none."""

    def count_queued_before(self, lane: str, task_id: str, limit: int, tenant: str | None = None) -> int:
        """Tasks of every tenant waiting in `lane` that were made before `task_id`, up to `limit`."""

    def record_start(self, lane: str, at_ms: int, count: int = 1) -> None:
        """Count `count` starts in `lane` in the bucket of `at_ms` (the lanes' recent rates estimate start times)."""

    def starts_since(self, lane: str, since_ms: int) -> list[tuple[int, int]]:
        """The lane's starts from `since_ms` on: (bucket's first ms, count), in time order."""

    def count_inflight(self, tenant: str, limit: int) -> int:
        """The tenant's tasks not yet ended, counted up to `limit`; eventually consistent."""

    def add_due(self, tenant: str, task_id: str, at_ms: int) -> None:
        """Have the sweeper look at the task at `at_ms` (a deadline). `create` adds the task's own."""

    def due_before(self, at_ms: int, limit: int, after: Due | None = None) -> list[Due]:
        """Up to `limit` deadlines of every tenant's tasks due by `at_ms`, oldest first (after `after`)."""

    def clear_due(self, due: Due) -> None:
        """The sweeper has seen to it."""

    def inflight_before(
        self, before_id: str, limit: int, after: dict[str, Any] | None = None
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """One page of (tenant, task id) of every tenant's unfinished tasks older than `before_id` (a batch's
        items left out), and where the next page starts (None at the end)."""

    def put_api_key(self, record: ApiKeyRecord) -> None: ...

    def get_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self, tenant: str) -> list[ApiKeyInfo]: ...

    def revoke_api_key(self, tenant: str, key_id: str, at: int) -> bool:
        """Removes the key (it stops authenticating); False if the tenant has no such live key."""


class BatchChanged(Exception):
    """A batch's compare-and-set lost; `current` is the batch as it is (None when there is none)."""

    def __init__(self, current: Batch | None) -> None:
        super().__init__("batch condition failed")
        self.current = current


class BatchStore(Protocol):
    def create_batch(self, batch: Batch, claim: NameClaim | None = None) -> None:
        """Insert a new batch (and claim its idempotency key), all or nothing; NameTaken if the key is taken."""

    def withdraw_batch(self, batch: Batch, claim: NameClaim | None = None) -> None:
        """Remove a batch that never started (its job could not be queued), with its name."""

    def get_batch(self, tenant: str, batch_id: str) -> Batch | None: ...

    def list_batches(self, tenant: str, *, limit: int, after: str | None) -> tuple[list[Batch], str | None]:
        """Newest first, from after the batch id `after`; and the cursor of the next page, if any."""

    def update_batch(
        self, tenant: str, batch_id: str, *, expect: Iterable[BatchStatus], changes: dict[str, Any]
    ) -> Batch:
        """Apply `changes` if the batch's status is in `expect`; BatchChanged otherwise."""

    def count_item(self, task: Task) -> Batch | None:
        """Count an ended item in its batch exactly once, however often this is called; the batch after it
        (None when the batch is gone)."""

    def get_tasks(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Task]:
        """The tasks among `task_ids` that exist, by id."""


@dataclass(frozen=True)
class WebhookSecrets:
    """A tenant's signing secret and, after a rotation, the one it replaced, still signed with until
    `previous_expires_at` (epoch ms)."""

    current: str
    previous: str | None = None
    previous_expires_at: int | None = None

    def in_grace(self, at_ms: int) -> bool:
        """Whether the previous secret is still signed with at `at_ms`."""
        return bool(self.previous) and at_ms < (self.previous_expires_at or 0)

    def signing(self, at_ms: int) -> list[str]:
        """The secrets a delivery made at `at_ms` is signed with: the current one, then the previous one."""
        if self.previous and self.in_grace(at_ms):
            return [self.current, self.previous]
        return [self.current]


class SecretsChanged(Exception):
    """A rotation's compare-and-set lost; `current` is what the tenant has now (None when nothing)."""

    def __init__(self, current: WebhookSecrets | None) -> None:
        super().__init__("webhook secret condition failed")
        self.current = current


class WebhookStore(Protocol):
    def get_secrets(self, tenant: str) -> WebhookSecrets | None: ...

    def put_secret(self, tenant: str, secret: str) -> WebhookSecrets:
        """Give the tenant its first signing secret unless it has one; returns the secrets in force."""

    def replace_secrets(self, tenant: str, secrets: WebhookSecrets, *, expected: str | None) -> None:
        """Store `secrets` if the current secret is still `expected` (None: the tenant has none yet);
        SecretsChanged otherwise."""

    def put_delivery(self, delivery: Delivery) -> bool:
        """Insert a delivery unless one with its id exists; False if it did."""

    def get_delivery(self, tenant: str, delivery_id: str) -> Delivery | None: ...

    def save_delivery(self, delivery: Delivery, *, previous_count: int) -> bool:
        """Replace the delivery if nobody recorded an attempt since it was read; False otherwise."""

    def list_deliveries(
        self, tenant: str, *, limit: int, after: str | None, prefix: str = ""
    ) -> tuple[list[Delivery], str | None]:
        """Newest first (ids whose start is `prefix`, when given) and the next page's cursor."""


class UsageStore(Protocol):
    """A tenant's budget and its usage lines (one per UTC day and model, grown by completions: TaskStore)."""

    def get_budget(self, tenant: str) -> Budget: ...

    def set_budget(self, tenant: str, budget: Budget, *, at: int) -> Budget:
        """Set the limits `budget` gives (None leaves one as it is); the budget after it."""

    def clear_budget(self, tenant: str, periods: Iterable[str]) -> Budget:
        """Remove the limits of `periods` ("daily", "monthly"); the budget after it."""

    def ledger(self, tenant: str, day: date) -> dict[Period, LedgerFigures]:
        """Spent + reserved, and reserved, in the periods containing `day`."""

    def usage_lines(self, tenant: str, first: date, last: date) -> list[UsageLine]:
        """The tenant's lines of days `first`..`last` (UTC, both included), read consistently."""
