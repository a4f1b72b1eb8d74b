"""The table's layout: key prefixes, the in-flight index, TTL and stream view. The CDK stack and the
emulator build the table from these names; the store reads and writes by them."""

from __future__ import annotations

TASK_PREFIX = "task#"
EVENT_PREFIX = "ev#"
NAME_PREFIX = "name#"
# Structured fields are stored as JSON strings: no float/Decimal juggling, one attribute each.
JSON_FIELDS = frozenset(
    {"request", "result", "error", "usage", "metadata", "outputs", "webhook", "progress", "produced", "upstream_job"}
    | {"cost_on_demand"}
)
# A sparse index of the tasks not yet ended: `inflight` (= tenant) is set at create and removed by
# the transition to a terminal status. It counts a tenant's tasks in flight and finds orphans.
INFLIGHT_INDEX = "inflight"
INFLIGHT_ATTRIBUTE = "inflight"
# A batch's items are in the index too (the sweeper finds them) but under their own key, so a large batch
# does not use up the tenant's in-flight quota for interactive submits.
BATCH_INFLIGHT_SUFFIX = "#batch"
# A sparse index of the tasks waiting to start, by lane (asyncinfer.domain.lanes): `queued` (= the lane)
# is set at create and removed by the task's first change of status. Ids are time-ordered, so a task's place
# in line is the count of its lane's entries before it. One partition per lane: about 1,000 queued tasks
# made or started per second and lane.
QUEUED_INDEX = "queued"
QUEUED_ATTRIBUTE = "queued"
# Not a tenant (tenants match ^[a-z0-9]): the lanes' start counters, in buckets of LANE_BUCKET_MS.
LANES_PK = "_lanes"
LANE_BUCKET_MS = 1_000
# Not a tenant either: the deadlines the sweeper watches, one item per (time, task), sk "<ms, 13 digits>#<tenant>#<id>"
# so that a query finds the ones due. One partition: about 1,000 deadlines set or cleared per second.
DUE_PK = "_due"
# A batch's completion window has one `_due` item for all of its items, its id prefixed so.
BATCH_DUE = "batch:"
# A `complete_by` batch's next look at its items waiting in flex (asyncinfer.tasks.flex_escalation): one `_due` item.
BATCH_ESCALATE = "bescalate:"
# Set on tasks whose ending someone waits for (a webhook, a batch): the table stream's filter selects them.
NOTIFY_ATTRIBUTE = "notify"
# A filtered list reads at most this many pages before answering with a cursor.
MAX_LIST_PAGES = 10

TABLE_KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
TABLE_ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
    {"AttributeName": INFLIGHT_ATTRIBUTE, "AttributeType": "S"},
    {"AttributeName": QUEUED_ATTRIBUTE, "AttributeType": "S"},
]
TABLE_INDEXES = [
    {
        "IndexName": INFLIGHT_INDEX,
        "KeySchema": [
            {"AttributeName": INFLIGHT_ATTRIBUTE, "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    },
    {
        "IndexName": QUEUED_INDEX,
        "KeySchema": [
            {"AttributeName": QUEUED_ATTRIBUTE, "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    },
]
TTL_ATTRIBUTE = "expires_at"
# The table stream carries both images: a task's ending is a change of status (asyncinfer.store.dynamodb_stream).
TABLE_STREAM_VIEW = "NEW_AND_OLD_IMAGES"
