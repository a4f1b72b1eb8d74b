"""A batch's results while it runs (GET /v1/batches/{id}/results) through the real handlers: the finishing
order the table stream's notifier records, paged by its cursor, and removed with the batch."""

import pytest

from asyncinfer.domain.batches import item_task_id
from asyncinfer.handlers import notifier
from asyncinfer.surfaces import anthropic_batches
from asyncinfer.surfaces import openai_batches as view
from tests.integration.test_batches import chat, create, items, results, run_all

pytestmark = pytest.mark.integration


def page(aws, batch_id: str, **query) -> tuple[int, dict]:
    return aws.api("GET", f"/v1/batches/{batch_id}/results", query=query, function="api_batches")


def recorded(aws, batch_id: str) -> list[str]:
    """The finishing-order items in the table for a batch (its internal id)."""
    resp = aws.ddb.query(
        TableName=aws.resources.table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": "acme"}, ":prefix": {"S": f"bend#{batch_id}#"}},
        ConsistentRead=True,
    )
    return [item["sk"]["S"] for item in resp["Items"]]


def test_an_ended_batchs_results_page_in_finishing_order_and_equal_its_results_file(aws):
    status, batch = create(aws, {"requests": [*items(4), {"custom_id": "bad", "body": chat("x", "demo-fail")}]})
    assert status == 200, batch
    run_all(aws)
    seen, after, pages = [], None, 0
    while True:
        status, body = page(aws, batch["id"], limit="2", **({"after": after} if after else {}))
        assert status == 200, body
        assert body["ended"] is True and body["first_id"] == after
        seen += body["data"]
        pages += 1
        after = body["last_id"]
        if not body["has_more"]:
            break
    assert pages == 3
    assert [line["ended_at"] for line in seen] == sorted(line["ended_at"] for line in seen)
    done = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")[1]
    by_id = {line["custom_id"]: line for line in results(aws, done)}
    assert sorted(line["custom_id"] for line in seen) == sorted(by_id)
    for line in seen:
        assert {k: v for k, v in line.items() if k != "ended_at"} == by_id[line["custom_id"]]
    assert by_id["bad"]["status"] == "FAILED"
    status, empty = page(aws, batch["id"], after=after)
    assert status == 200 and empty["data"] == [] and empty["last_id"] == after and not empty["has_more"]


def test_an_ending_told_twice_is_recorded_once(aws):
    status, batch = create(aws, {"requests": items(3)})
    assert status == 200, batch
    run_all(aws)
    internal = view.internal_id(batch["id"])
    before = recorded(aws, internal)
    assert len(before) == 3
    task = aws.store.get("acme", item_task_id(internal, 1))
    notifier.endings().tracker.item_ended(task)
    assert recorded(aws, internal) == before


@pytest.mark.parametrize("cursor", ["nonsense", "0" * 32 + ".0000000000001.000001"])
def test_a_cursor_no_page_of_this_batch_returned_is_a_400(aws, cursor):
    status, batch = create(aws, {"requests": items(2)})
    assert status == 200, batch
    run_all(aws)
    first = page(aws, batch["id"], limit="1")[1]
    status, other = create(aws, {"requests": items(1)})
    run_all(aws)
    others = page(aws, other["id"])[1]["last_id"]
    for bad in (cursor, others):
        status, body = page(aws, batch["id"], after=bad)
        assert status == 400 and body["error"]["code"] == "invalid_request", body
    assert page(aws, batch["id"], after=first["last_id"])[0] == 200


def test_deleting_a_batch_removes_its_finishing_order(aws):
    status, batch = aws.api("POST", "/v1/messages/batches", body=anthropic_batches.EXAMPLE, function="api_batches")
    assert status == 200, batch
    run_all(aws)
    internal = anthropic_batches.internal_id(batch["id"])
    assert recorded(aws, internal)
    status, _ = aws.api("DELETE", f"/v1/messages/batches/{batch['id']}", function="api_batches")
    assert status == 200
    assert recorded(aws, internal) == []


def test_a_responses_batchs_items_read_as_the_response_objects_of_its_results_file(aws):
    bodies = [{"model": "demo-chat", "input": f"Name a colour {i}", "instructions": "One word"} for i in range(2)]
    requests = [{"custom_id": f"r{i}", "body": body} for i, body in enumerate(bodies)]
    status, batch = create(aws, {"endpoint": "/v1/responses", "requests": requests})
    assert status == 200, batch
    run_all(aws)
    status, body = page(aws, batch["id"])
    assert status == 200, body
    done = aws.api("GET", f"/v1/batches/{batch['id']}", function="api_batches")[1]
    by_id = {line["custom_id"]: line for line in results(aws, done)}
    assert len(body["data"]) == 2
    for line in body["data"]:
        assert line["response"]["object"] == "response" and line["response"]["instructions"] == "One word"
        assert {k: v for k, v in line.items() if k != "ended_at"} == by_id[line["custom_id"]]
