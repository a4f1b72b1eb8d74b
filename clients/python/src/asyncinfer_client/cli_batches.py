"""`aic batch`: submit a batch (and wait with a progress bar), print its results as JSONL, once it ended or,
with --partial, those so far in the order its items ended (--follow: until it ended); run its failed items again."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from asyncinfer_client.client import Client


def add_batch_commands(commands: Any) -> None:
    """`aic batch submit (create)|get|results|retry`, on the parser's subcommands."""
    batch = commands.add_parser("batch", help="batches").add_subparsers(required=True)
    batch_submit = batch.add_parser("submit", aliases=["create"], help="submit a JSONL file of {custom_id, body} lines")
    batch_submit.add_argument("file", type=Path)
    batch_submit.add_argument("--endpoint", default="/v1/async")
    batch_submit.add_argument("--window", help="its completion window (24h, 90m, 20s...): unfinished items then expire")
    batch_submit.add_argument(
        "--complete-by",
        help="every item done by then, as cheaply as possible: +90m, an RFC 3339 time or epoch seconds",
    )
    batch_submit.add_argument("--wait", action="store_true", help="wait, with a progress bar by counts")
    batch_submit.add_argument("--timeout", type=float, default=3600.0)
    batch_submit.set_defaults(command=_batch_submit)
    batch_get = batch.add_parser("get", help="a batch's status, counts and cost")
    batch_get.add_argument("id")
    batch_get.set_defaults(command=_batch_get)
    batch_results = batch.add_parser("results", help="a batch's result lines (JSONL)")
    batch_results.add_argument("id")
    batch_results.add_argument(
        "--partial", action="store_true", help="while it runs: the lines so far, in the order the items ended"
    )
    batch_results.add_argument("--after", help="with --partial: go on after this cursor (a page's last_id)")
    batch_results.add_argument("--follow", action="store_true", help="with --partial: print new lines until it ended")
    batch_results.add_argument("--timeout", type=float, default=3600.0, help="with --follow: give up after seconds")
    batch_results.set_defaults(command=_batch_results)
    batch_retry = batch.add_parser("retry", help="run an ended batch's failed items again, in the same batch")
    batch_retry.add_argument("id")
    batch_retry.add_argument("--include-expired", action="store_true", help="its expired items too")
    batch_retry.add_argument("--window", help="a completion window of the retry's own (24h, 90m, 20s...)")
    batch_retry.add_argument("--wait", action="store_true", help="wait until the batch ended again")
    batch_retry.add_argument("--timeout", type=float, default=3600.0, help="with --wait: give up after seconds")
    batch_retry.set_defaults(command=_batch_retry)


def _batch_submit(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    window = {"completion_window": args.window} if args.window else {}
    batch = client.batches.create(args.file, endpoint=args.endpoint, complete_by=args.complete_by, **window)
    if not args.wait:
        out.print_json(json.dumps(batch)) if args.json else out.print(batch["id"])
        return 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        bar = progress.add_task(batch["id"], total=batch["request_counts"]["total"])

        def show(read: dict) -> None:
            counts = read["request_counts"]
            ended = counts["completed"] + counts["failed"] + counts["cancelled"] + counts.get("expired", 0)
            progress.update(bar, completed=ended, description=f"{read['id']} {read['status']}")

        done = client.batches.wait(batch["id"], timeout=args.timeout, on_progress=show)
    if args.json:
        out.print_json(json.dumps(done))
    else:
        out.print(summary(done))
    return 0 if done["status"] == "completed" else 1


def summary(batch: dict[str, Any]) -> str:
    """One line of a batch: its status, its counts, and (from a server that reports it) its cost and saving."""
    counts = batch["request_counts"]
    line = (
        f"{batch['id']} {batch['status']}: {counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['cancelled']} cancelled, {counts.get('expired', 0)} expired of {counts['total']}"
    )
    if batch.get("cost") is not None:
        line += f"; cost ${batch['cost']}, saving ${batch.get('saving', '0')} against on demand"
    return line


def _batch_get(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    batch = client.batches.get(args.id)
    out.print_json(json.dumps(batch)) if args.json else out.print(summary(batch), highlight=False)
    return 0


def _batch_retry(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    batch = client.batches.retry(args.id, include_expired=args.include_expired, completion_window=args.window)
    pending = batch["request_counts"]["pending"]
    if args.wait:
        batch = client.batches.wait(batch["id"], timeout=args.timeout)
    if args.json:
        out.print_json(json.dumps(batch))
        return 0
    counts = batch["request_counts"]
    saving = f"; saving ${batch['saving']}" if batch.get("saving") is not None else ""
    out.print(
        f"{batch['id']} {batch['status']} (round of {pending} items): {counts['completed']} completed, "
        f"{counts['failed']} failed, {counts.get('expired', 0)} expired of {counts['total']}{saving}"
    )
    return 0 if batch["status"] in ("in_progress", "completed") else 1


def _batch_results(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    if (args.follow or args.after) and not args.partial:
        err.print("--follow and --after go with --partial")
        return 2
    if args.partial:
        lines = client.batches.iter_partial(args.id, args.after, follow=args.follow, timeout=args.timeout)
    else:
        lines = client.batches.results(args.id)
    for line in lines:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()  # a pipe reads each line as it comes
    return 0
