"""The settings several functions read: where they may connect for a client, the key that seals client
secrets, the runner, the lanes and their capacity, and the local stack's stand-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from asyncinfer.config.base import DocsSettings

if TYPE_CHECKING:
    from asyncinfer.domain.ssrf import Outbound


class OutboundSettings(DocsSettings):
    """Where the service may connect for a client (MCP servers, webhook receivers): private, loopback and
    shared addresses are refused unless allowed (the local stack allows them) or the host / CIDR is listed.
    Link-local and metadata addresses are always refused. Checked at submit and again at every connection."""

    mcp_allow_private: bool = False
    mcp_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_allow_private: bool = False
    webhook_allowed_hosts: list[str] = Field(default_factory=list)

    def outbound(self) -> Outbound:
        from asyncinfer.domain.ssrf import Outbound, OutboundPolicy  # the address rules: only what sends out

        return Outbound(
            mcp=OutboundPolicy(self.mcp_allow_private, tuple(self.mcp_allowed_hosts)),
            webhooks=OutboundPolicy(self.webhook_allow_private, tuple(self.webhook_allowed_hosts)),
        )


class SealingSettings(DocsSettings):
    # The KMS key that wraps the data keys of sealed client secrets (MCP credentials, webhook URLs).
    sealing_key_id: str = Field(min_length=1)


class RunnerLinkSettings(DocsSettings):
    # The long-task runner's qualified ARN (a durable function's version or alias); unset in a Region
    # without Lambda durable functions, where long tasks are refused at submit.
    runner_function_arn: str | None = None


class StandInSettings(DocsSettings):
    # make dev: the offline video job service the demo video model's jobs go to (Bedrock's async API).
    # Unset in a deployment, where the models that need it are refused at submit.
    demo_video_jobs_url: str | None = None
    # make dev: the offline batch job services of the demo batch models (Bedrock's and OpenAI's batch APIs).
    demo_batch_jobs_url: str | None = None


class LaneSettings(DocsSettings):
    """The queues of the priority and flex classes (the tasks queue is the default class's); a class
    without one waits in the tasks queue."""

    priority_queue_url: str | None = None
    flex_queue_url: str | None = None

    def lane_urls(self) -> dict[str, str]:
        urls = {"priority": self.priority_queue_url, "flex": self.flex_queue_url}
        return {lane: url for lane, url in urls.items() if url}


class EscalationSettings(DocsSettings):
    """What `complete_by`'s estimates take as on-demand's capacity (asyncinfer.domain.escalation): how many items each
    class's lane runs side by side (its workers' concurrency times their batch), and the demo models' pace."""

    default_lane_slots: int = Field(default=20, ge=1)
    priority_lane_slots: int = Field(default=0, ge=0)
    flex_lane_slots: int = Field(default=0, ge=0)
    # How often the sweeper looks at due times: escalation moves earlier by this much.
    escalation_sweep_seconds: int = Field(default=60, ge=1, le=3600)
    # Where escalations are announced (`batch.escalated`, `task.escalated`); unset, they are only logged.
    webhook_queue_url: str | None = None
    demo_chat_seconds: float = Field(default=3.0, ge=0)
