"""The client's `complete_by`: `batches.create(..., complete_by=...)` sends it, `aic batch create --complete-by` too,
and `aic batch get` and a waited submit print the batch's cost and saving (against a fake server)."""

import argparse
import io
import json
from argparse import Namespace

import httpx
from asyncinfer_client import Client
from asyncinfer_client.cli_batches import _batch_get, add_batch_commands, summary
from rich.console import Console

BATCH = {
    "id": "batch_1",
    "status": "completed",
    "request_counts": {"total": 2, "completed": 2, "failed": 0, "cancelled": 0, "expired": 0},
    "complete_by": 1_796_605_260,
    "cost": "0.00150000",
    "cost_on_demand": "0.00300000",
    "saving": "0.00150000",
}


def test_create_sends_complete_by_beside_its_window_only_when_given():
    sent = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=BATCH)

    with Client("http://127.0.0.1:9", "k", transport=httpx.MockTransport(server)) as c:
        c.batches.create([{"custom_id": "a", "body": {}}], complete_by="+60s", completion_window="24h")
        c.batches.create([{"custom_id": "a", "body": {}}])
    assert sent[0]["complete_by"] == "+60s" and sent[0]["completion_window"] == "24h"
    assert "complete_by" not in sent[1]


def test_aic_batch_create_takes_complete_by_and_a_window():
    parser = argparse.ArgumentParser()
    add_batch_commands(parser.add_subparsers())
    args = parser.parse_args(["batch", "create", "in.jsonl", "--complete-by", "+10m", "--window", "1h"])
    assert (args.complete_by, args.window) == ("+10m", "1h")
    assert parser.parse_args(["batch", "submit", "in.jsonl"]).complete_by is None


def test_the_batch_line_shows_the_cost_and_saving_when_the_server_reports_them():
    line = summary(BATCH)
    assert line.startswith("batch_1 completed: 2 completed, 0 failed, 0 cancelled, 0 expired of 2")
    assert line.endswith("; cost $0.00150000, saving $0.00150000 against on demand")
    older = {key: value for key, value in BATCH.items() if key not in ("cost", "cost_on_demand", "saving")}
    assert "saving" not in summary(older)


def test_aic_batch_get_prints_the_line():
    class Batches:
        def get(self, batch_id):
            assert batch_id == "batch_1"
            return BATCH

    out = io.StringIO()
    client = Namespace(batches=Batches())
    code = _batch_get(client, Namespace(id="batch_1", json=False), Console(file=out, width=200), Console())
    assert code == 0 and "saving $0.00150000" in out.getvalue()
