"""(k) Worker density at deployed settings: chat tasks whose model streams at a realistic, varied pace,
delivered by a simulated SQS event source mapping to the real worker handler, each concurrent instance a
process of its own. Billed GB-s per model-second, peak memory per concurrent stream, and how long after a
task's last token its COMPLETED record can be read, over three runs (bench/density_instance.py: the pieces)."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import time
from typing import TYPE_CHECKING, Any

from bench.density_instance import DEPLOYED, EventSource, instance
from infra.config import WORKER_MEMORY_MB

# The streams one worker invocation runs at once, as the infra deploys them (infra/components/workers.py): its
# slots setting where it has one, else ASYNCINFER_CONCURRENCY = the batch size. Set a number here to try another.
WORKER_SLOTS = getattr(DEPLOYED, "worker_slots", DEPLOYED.worker_batch_size)
# C: the most invocations the simulated event source mapping runs at once (its instances).
INSTANCES = 2
RUNS = 3  # the acceptance's figures hold over three runs: each run's GB-s, the worst memory, p95 of all reads
READ_EVERY_SECONDS = 0.1
TARGET_GB_S = 0.05
TARGET_MEMORY_SHARE = 0.8
TARGET_READ_P95_SECONDS = 1.0

if TYPE_CHECKING:
    from bench.common import Row


def run(tasks: int | None = None) -> Row:
    from bench.common import SMOKE, Row, percentile
    from bench.cost import AWS_LATENCY_SECONDS

    tasks = tasks or (20 if SMOKE else 200)
    runs = [_one_run(tasks, SMOKE) for _ in range(1 if SMOKE else RUNS)]
    memory_gb = WORKER_MEMORY_MB / 1024
    worst = max(r["per_model_second"] for r in runs)
    peak_mb = max(r["peak_mb"] for r in runs)
    per_stream_mb = max(r["per_stream_mb"] for r in runs)
    delays = [d for r in runs for d in r["delays"]]
    p95 = percentile(delays, 95)
    met = worst <= TARGET_GB_S and peak_mb < TARGET_MEMORY_SHARE * WORKER_MEMORY_MB
    latency = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in AWS_LATENCY_SECONDS.items())
    calls, slower = sum(r["calls"] for r in runs), sum(r["slower"] for r in runs)
    details = [
        f"{tasks} chat tasks a run (first token {'0.1-0.4' if SMOKE else '0.5-2'} s, 30-80 tokens/s, "
        f"{'10-60' if SMOKE else '100-1,500'} tokens, from each prompt's hash), a backlog queued before the "
        f"event source starts; {len(runs)} run(s), the figure is the worst run's",
        f"event source: at most {INSTANCES} invocations at once (bench parameter C), batch "
        f"{DEPLOYED.worker_batch_size}, window {DEPLOYED.worker_batching_window_seconds} s; worker "
        f"{WORKER_MEMORY_MB} MB, {WORKER_SLOTS} slots (ASYNCINFER_WORKER_SLOTS, _CONCURRENCY), "
        f"timeout {DEPLOYED.worker_timeout_seconds} s; each instance a warm process, the emulator another",
    ]
    for i, r in enumerate(runs, 1):
        details.append(
            f"run {i}: {r['per_model_second']:.3f} GB-s per model-second: {r['invocations']} invocations billed "
            f"{r['billed_seconds']:.1f} s ({r['billed_seconds'] * memory_gb:.1f} GB-s) for {r['model_seconds']:.0f} "
            f"model-seconds in {r['wall']:.0f} s; streams per invocation mean {r['mean_streams']:.1f}, max "
            f"{r['max_streams']}; {r['failures']} messages reported failed; read p95 "
            f"{percentile(r['delays'], 95):.2f} s; peak RSS {r['peak_mb']:.0f} MB"
        )
    details += [
        f"each AWS call padded to in-region latency ({latency}) when the emulator answered sooner; "
        f"{slower} of {calls} calls ({slower / max(1, calls):.1%}) were slower on the emulator, by "
        f"{sum(r['slower_seconds'] for r in runs):.1f} s in all: the GB-s figure is an upper bound",
        f"memory: peak RSS {peak_mb:.0f} MB of {WORKER_MEMORY_MB} MB ({peak_mb / WORKER_MEMORY_MB:.0%}); per "
        f"stream = (peak RSS - RSS before the run) / peak concurrent streams of an instance "
        f"({max(r['peak_streams'] for r in runs)})",
        f"COMPLETED read: a reader polls each task's record (consistent GetItem) every "
        f"{READ_EVERY_SECONDS * 1000:.0f} ms after its last token; {len(delays)} reads over the runs: p50 "
        f"{percentile(delays, 50):.2f} s, p95 {p95:.2f} s, max {max(delays):.2f} s",
    ]
    return Row(
        "k. density at deployed settings",
        f"{worst:.3f} GB-s per model-second; peak {per_stream_mb:.1f} MB per stream; "
        f"COMPLETED read p95 {p95:.2f} s after last token",
        f"<= {TARGET_GB_S} GB-s per model-second, peak < {TARGET_MEMORY_SHARE:.0%} of memory, "
        f"p95 <= {TARGET_READ_P95_SECONDS:.0f} s (over {RUNS} runs)",
        met and p95 <= TARGET_READ_P95_SECONDS,
        details,
    )


def _one_run(tasks: int, smoke: bool) -> dict[str, Any]:
    """One run on a fresh emulator and fresh instances: its billed figures, memory and read delays."""
    import multiprocessing

    from asyncinfer import wiring
    from asyncinfer.config import ApiSettings
    from bench.cost import AWS_LATENCY_SECONDS
    from infra.local.emulator import EmulatorProcess

    spawn = multiprocessing.get_context("spawn")
    (emulator := EmulatorProcess()).start()
    saved = dict(os.environ)
    children: list[tuple[Any, Any]] = []
    try:
        resources = emulator.create_resources("bench-density")
        env = {
            **resources.env(),
            **DEPLOYED.lane_slots_environment(),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "ASYNCINFER_WORKER_SLOTS": str(WORKER_SLOTS),
            "ASYNCINFER_CONCURRENCY": str(WORKER_SLOTS),  # the pool's threads: one invocation per process
        }
        os.environ.update(env, ASYNCINFER_SUBMITS_PER_WINDOW="0", ASYNCINFER_MAX_INFLIGHT_TASKS="0")
        events = spawn.Queue()
        for _ in range(INSTANCES):
            mine, theirs = spawn.Pipe()
            process = spawn.Process(target=instance, args=(theirs, events, env, AWS_LATENCY_SECONDS, smoke))
            process.start()
            children.append((process, mine))
        wiring.reset()
        store = (service := wiring.task_service(ApiSettings())).store
        ids = {}
        for prompt in (f"density task {i}" for i in range(tasks)):
            body = {"model": "demo-chat", "messages": [{"role": "user", "content": prompt}]}
            ids[prompt] = service.submit_chat("bench", body).id
        assert all(conn.recv() == "ready" for _, conn in children)
        source = EventSource(emulator.client("sqs"), resources.queue_url, resources.queue_arn, [c for _, c in children])
        started = time.monotonic()
        for thread in source.threads:
            thread.start()
        model_seconds, delays = _read_completions(store, ids, events, source, 90 if smoke else 1200)
        wall = time.monotonic() - started
        source.stop.set()
        for thread in source.threads:
            thread.join(600)
        figures = []
        for process, conn in children:
            conn.send(None)
            figures.append(conn.recv())
            process.join(30)
    finally:
        for process, _ in children:
            if process.is_alive():
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
        emulator.stop()

    billed_seconds = sum(math.ceil(seconds * 1000) / 1000 for _, seconds, _ in source.invocations)
    streams = [opened for _, _, opened in source.invocations]
    return {
        "per_model_second": billed_seconds * (WORKER_MEMORY_MB / 1024) / model_seconds,
        "billed_seconds": billed_seconds,
        "model_seconds": model_seconds,
        "wall": wall,
        "invocations": len(source.invocations),
        "mean_streams": sum(streams) / len(streams),
        "max_streams": max(streams),
        "failures": source.failures,
        "delays": delays,
        "peak_mb": max(f["peak_mb"] for f in figures),
        "per_stream_mb": max((f["peak_mb"] - f["before_mb"]) / max(1, f["peak_streams"]) for f in figures),
        "peak_streams": max(f["peak_streams"] for f in figures),
        **{name: sum(f[name] for f in figures) for name in ("calls", "slower", "slower_seconds")},
    }


def _read_completions(store: Any, ids: dict[str, str], events: Any, source: Any, timeout: float) -> tuple:
    """Until every task reads COMPLETED: each stream's model time (the last stream of a task that ran twice)
    and, per task, the delay from its last token to the first read that shows it COMPLETED."""
    model: dict[str, float] = {}
    waiting: dict[str, float] = {}
    delays: dict[str, float] = {}
    gives_up = time.monotonic() + timeout
    while len(delays) < len(ids):
        if source.error is not None:
            raise RuntimeError("an instance failed") from source.error
        if time.monotonic() > gives_up:
            raise TimeoutError(f"{len(delays)} of {len(ids)} tasks read COMPLETED after {timeout:.0f} s")
        time.sleep(READ_EVERY_SECONDS)
        with contextlib.suppress(queue.Empty):
            while True:
                prompt, first_request, last_token = events.get_nowait()
                model[prompt] = last_token - first_request
                waiting[prompt] = max(waiting.get(prompt, 0.0), last_token)
        for prompt, last_token in list(waiting.items()):
            task = store.get("bench", ids[prompt])
            if task is not None and task.status == "COMPLETED":
                delays[prompt] = time.monotonic() - last_token
                del waiting[prompt]
    return sum(model.values()), list(delays.values())
