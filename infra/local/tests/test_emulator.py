"""The local emulator's shortcuts answer as moto itself does: a count of an index walks the items instead of
sorting and copying them, answers that are plain JSON are written as such, and reads of an index do not
wait in the table's line (its indexes are eventually consistent, keys only). And the emulator in a process
of its own goes away with the stack, however the stack ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import boto3
import pytest
from moto import mock_aws

from infra.local.emulator import REGION, EmulatorProcess, provision
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.integration

COUNTS = [
    ("inflight", "#a = :v", {":v": {"S": "alice"}}, None),
    ("inflight", "#a = :v", {":v": {"S": "alice"}}, 5),
    ("inflight", "#a = :v", {":v": {"S": "nobody"}}, None),
    ("queued", "#a = :v AND sk < :s", {":v": {"S": "flex"}, ":s": {"S": "task#00150"}}, 1000),
    ("queued", "#a = :v AND begins_with(sk, :s)", {":v": {"S": "default"}, ":s": {"S": "task#001"}}, None),
    (
        "queued",
        "#a = :v AND sk BETWEEN :x AND :y",
        {":v": {"S": "default"}, ":x": {"S": "task#00010"}, ":y": {"S": "task#00200"}},
        30,
    ),
]


@pytest.fixture
def table():
    with mock_aws():
        resources = provision(lambda service: boto3.client(service, region_name=REGION), "emu")
        ddb = boto3.client("dynamodb", region_name=REGION)
        for i in range(300):
            item = {"pk": {"S": "alice" if i % 3 else "bob"}, "sk": {"S": f"task#{i:05d}"}}
            if i % 10 < 7:
                item["inflight"] = {"S": item["pk"]["S"]}
            if i % 4 < 2:
                item["queued"] = {"S": "flex" if i % 4 else "default"}
            ddb.put_item(TableName=resources.table_name, Item=item)
        yield ddb, resources.table_name


@pytest.mark.parametrize(("index", "condition", "values", "limit"), COUNTS)
def test_a_count_of_an_index_is_what_reading_its_items_gives(table, index, condition, values, limit):
    ddb, name = table
    query = {
        "TableName": name,
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#a": index},
        "ExpressionAttributeValues": values,
        **({"Limit": limit} if limit else {}),
    }
    counted, read = ddb.query(**query, Select="COUNT"), ddb.query(**query)
    assert counted["Count"] == len(read["Items"]) == read["Count"]
    assert counted.get("LastEvaluatedKey") == read.get("LastEvaluatedKey")


def test_answers_round_trip_every_kind_of_value_binary_included(table):
    ddb, name = table
    item = {
        "pk": {"S": "a"},
        "sk": {"S": "b"},
        "n": {"N": "1.5"},
        "b": {"B": b"\x00\xff"},
        "l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]},
        "m": {"M": {"ns": {"NS": ["1", "2"]}, "ss": {"SS": ["y"]}}},
    }
    ddb.put_item(TableName=name, Item=item)
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})["Item"] == item
    updated = ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}, "sk": {"S": "b"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    assert updated["Attributes"] == {"n": {"N": "2.5"}}
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "nothing"}}).get("Item") is None


def test_index_reads_beside_writes_always_answer(table):
    """Writers change the table under reads of its index that take no place in line: no read fails, and each
    count lies between what was there before and after."""
    ddb, name = table
    count = {"TableName": name, "IndexName": "inflight", "Select": "COUNT"}
    count |= {"KeyConditionExpression": "inflight = :t", "ExpressionAttributeValues": {":t": {"S": "carol"}}}
    done = threading.Event()

    def write() -> None:
        for i in range(400):
            ddb.put_item(TableName=name, Item={"pk": {"S": "carol"}, "sk": {"S": f"w{i}"}, "inflight": {"S": "carol"}})
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    while not done.is_set():
        seen.append(ddb.query(**count)["Count"])
    writer.join()
    seen.append(ddb.query(**count)["Count"])
    assert seen == sorted(seen) and seen[-1] == 400 and all(0 <= n <= 400 for n in seen)


def test_the_emulator_process_goes_away_with_the_stack_even_one_killed():
    emulator = EmulatorProcess()
    emulator.start()
    try:
        assert emulator.client("dynamodb").list_tables()["TableNames"] == []
    finally:
        emulator.stop()
    # A stack killed outright (no chance to stop anything): its emulator ends once its standard input closes.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from infra.local.emulator import EmulatorProcess; import os, sys, time\n"
            "e = EmulatorProcess(); e.start(); print(e._child._process.pid, flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    wait_for(lambda: not alive(child), timeout=10, what="the emulator's exit")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) is gone too
        return stat.read().split()[2] != "Z"
