import json

import pytest

from asyncinfer import cli
from asyncinfer.observability import tracing
from asyncinfer.ops.trace_view import task_trace, waterfall, xray_id


def span(name, trace="a" * 32, span_id="1", parent=None, start=0, end=1_000_000, **attributes):
    return {
        "trace_id": trace,
        "span_id": span_id,
        "parent_id": parent,
        "name": name,
        "start_ns": start,
        "end_ns": end,
        "status": "UNSET",
        "attributes": attributes,
        "links": [],
        "service": "asyncinfer",
    }


SPANS = [
    span(
        "chat demo",
        span_id="3",
        parent="2",
        start=5_000_000,
        end=9_000_000,
        **{
            tracing.GEN_AI.GEN_AI_REQUEST_MODEL: "demo",
            tracing.GEN_AI.GEN_AI_USAGE_OUTPUT_TOKENS: 12,
            tracing.GEN_AI.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        },
    ),
    span("POST /v1/async", span_id="1", start=1_000_000, end=2_000_000),
    span("claim", span_id="2", parent="1", start=4_000_000, end=10_000_000, **{tracing.TASK_ID: "t1"}),
    span("POST /v1/async", trace="b" * 32, span_id="9", **{tracing.TASK_ID: "t2"}),
]


def test_a_tasks_trace_is_every_span_of_the_traces_holding_one_of_its_spans_by_start():
    assert [s["name"] for s in task_trace(SPANS, "t1")] == ["POST /v1/async", "claim", "chat demo"]
    assert task_trace(SPANS, "nobody") == []


def test_the_waterfall_shows_offsets_durations_nesting_and_key_attributes():
    lines = waterfall(task_trace(SPANS, "t1"))
    assert lines[0] == f"trace {'a' * 32}"
    assert lines[2].split()[:3] == ["0.0ms", "1.0ms", "POST"]
    assert "     3.0ms       6.0ms    claim" in lines[3]
    assert "    4.0ms       4.0ms      chat demo" in lines[4]
    assert "model=demo" in lines[4] and "out=12" in lines[4] and "finish=stop" in lines[4]


def test_xray_spells_a_w3c_trace_id_with_its_time_part_apart():
    assert xray_id("0123456789abcdef0123456789abcdef") == "1-01234567-89abcdef0123456789abcdef"


def test_the_command_reads_the_local_stacks_spans(tmp_path, capsys):
    traces = tmp_path / "traces.jsonl"
    traces.write_text("".join(json.dumps(s) + "\n" for s in SPANS) + '{"half a line')
    assert cli.main(["trace", "t1", "--file", str(traces)]) == 0
    out = capsys.readouterr().out
    assert "claim" in out and "chat demo" in out and "b" * 32 not in out


def test_an_unknown_task_is_a_clear_error(tmp_path, capsys):
    traces = tmp_path / "traces.jsonl"
    traces.write_text("")
    with pytest.raises(SystemExit):
        cli.main(["trace", "t9", "--file", str(traces)])
    assert "no span of task t9" in capsys.readouterr().err
