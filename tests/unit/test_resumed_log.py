"""A step that runs again after an interruption does not write what its first run already wrote."""

from asyncinfer.runner.resumed_log import ResumedLog


class Recorder:
    seq = 0

    def __init__(self) -> None:
        self.added: list[dict] = []

    def add(self, event: dict) -> None:
        self.added.append(event)


def resumed(written: list[dict]) -> tuple[ResumedLog, Recorder]:
    recorder = Recorder()
    return ResumedLog(recorder, written, "turn-1"), recorder  # type: ignore[arg-type]


def say(log: ResumedLog, *texts: str) -> None:
    for text in texts:
        log.add({"type": "delta", "text": text})


def test_a_run_that_says_what_was_written_writes_only_what_comes_after_it_however_it_was_batched():
    written = [{"seq": 4, "type": "delta", "text": "The sky is bl"}]
    log, recorder = resumed(written)
    say(log, "The ", "sky ", "is ", "blue ", "because")
    assert recorder.added == [{"type": "delta", "text": "ue "}, {"type": "delta", "text": "because"}]


def test_a_run_that_stops_inside_what_was_written_writes_nothing():
    log, recorder = resumed([{"seq": 4, "type": "delta", "text": "One two three"}])
    say(log, "One ", "two")
    assert recorder.added == []


def test_other_events_are_compared_whole():
    call = {"type": "tool_call", "id": "c1", "name": "search", "arguments": "{}"}
    log, recorder = resumed([{"seq": 9, **call}])
    log.add(dict(call))
    log.add({"type": "tool_result", "id": "c1", "content": "found"})
    assert recorder.added == [{"type": "tool_result", "id": "c1", "content": "found"}]


def test_a_run_that_says_something_else_is_written_whole_after_a_restart_event():
    log, recorder = resumed([{"seq": 4, "type": "delta", "text": "The sky is blue"}])
    say(log, "The ", "sea ", "is ", "green")
    assert recorder.added[0] == {"type": "restart", "step": "turn-1", "reason": "the step ran again and said otherwise"}
    assert "".join(e["text"] for e in recorder.added[1:]) == "The sea is green"
