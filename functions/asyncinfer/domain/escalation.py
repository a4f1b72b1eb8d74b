"""Done by T, as cheaply as possible (`complete_by`): when a batch's remaining items must leave the cheap path
they started on (a provider's batch job, or the flex class) for on-demand, so that every item still ends by the
deadline.

The cheap path is kept as long as it may still finish in time *and* on-demand could still take over if it does
not: the switch happens at the latest when what is left, run on-demand with a safety margin, would only just end
by the deadline. A cheap path whose own estimate already misses the deadline is left at once, since waiting for
it buys nothing (a provider's batch job cannot hand back part of its records early)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# On-demand's estimate is multiplied by this before it is trusted: model latency varies, and a lane's other
# tenants take slots too.
DEFAULT_MARGIN = 2.0


@dataclass(frozen=True)
class Outlook:
    """How a batch stands at `now_ms` (epoch ms), against its deadline."""

    now_ms: int
    deadline_ms: int
    remaining: int  # items not ended yet
    item_ms: int  # how long one item takes on-demand
    slots: int  # items on-demand runs side by side for this batch
    # When the cheap path is expected to end every remaining item (None: no estimate yet).
    cheap_finish_ms: int | None = None
    margin: float = DEFAULT_MARGIN

    def on_demand_ms(self) -> int:
        """How long on-demand takes to end what is left, margin included."""
        if self.remaining <= 0:
            return 0
        rounds = math.ceil(self.remaining / max(1, self.slots))
        return math.ceil(rounds * self.item_ms * self.margin)

    def latest_switch_ms(self) -> int:
        """The last moment on-demand can start what is left and still end it by the deadline."""
        return self.deadline_ms - self.on_demand_ms()


def should_escalate(outlook: Outlook) -> bool:
    """Whether the remaining items must move to on-demand now."""
    if outlook.remaining <= 0:
        return False
    if outlook.cheap_finish_ms is not None and outlook.cheap_finish_ms > outlook.deadline_ms:
        return True
    return outlook.now_ms >= outlook.latest_switch_ms()


def next_look_ms(outlook: Outlook, poll_ms: int) -> int:
    """When to look again: after the usual poll interval, but never past the latest switch."""
    return max(outlook.now_ms, min(outlook.now_ms + poll_ms, outlook.latest_switch_ms()))


# A model that says nothing of its pace is assumed slow: escalating early costs more, late misses the deadline.
ESCALATION_ITEM_SECONDS = 60.0


def item_ms(item_seconds: float | None, demo_seconds: float | None = None) -> int:
    """How long one item takes on demand: the model's `item_seconds`, else the demo models' configured pace (local
    models), else a conservative minute."""
    for seconds in (item_seconds, demo_seconds):
        if seconds is not None and seconds > 0:
            return math.ceil(seconds * 1000)
    return math.ceil(ESCALATION_ITEM_SECONDS * 1000)


def escalation_tier(outlook: Outlook, default_slots: int, priority_slots: int, priority_allowed: bool) -> str:
    """The class the remaining items move to: the default class when it still ends them by the deadline (margin
    included), else the priority class where the tenant may use it and the deployment runs it, else the default
    class as best effort."""
    in_default = Outlook(outlook.now_ms, outlook.deadline_ms, outlook.remaining, outlook.item_ms, default_slots)
    if outlook.now_ms + in_default.on_demand_ms() <= outlook.deadline_ms:
        return "default"
    return "priority" if priority_allowed and priority_slots > 0 else "default"


def hold_tier(priority_allowed: bool) -> str:
    """The class a `complete_by` item reserves its budget at: the dearest it may escalate to (the priority class
    where the tenant may use it), so that no escalation spends past what it holds."""
    return "priority" if priority_allowed else "default"


def start_tier(flex_allowed: bool) -> str:
    """The cheapest class a `complete_by` item starts in when no provider batch job takes it."""
    return "flex" if flex_allowed else "default"
