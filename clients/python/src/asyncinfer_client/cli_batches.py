"""`aic batch`: submit a batch (and wait with a progress bar), print its results as JSONL."""

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
    """`aic batch submit|results`, on the parser's subcommands."""
    batch = commands.add_parser("batch", help="batches").add_subparsers(required=True)
    batch_submit = batch.add_parser("submit", help="submit a JSONL file of {custom_id, body} lines")
    batch_submit.add_argument("file", type=Path)
    batch_submit.add_argument("--endpoint", default="/v1/async")
    batch_submit.add_argument("--wait", action="store_true", help="wait, with a progress bar by counts")
    batch_submit.add_argument("--timeout", type=float, default=3600.0)
    batch_submit.set_defaults(command=_batch_submit)
    batch_results = batch.add_parser("results", help="a batch's result lines (JSONL)")
    batch_results.add_argument("id")
    batch_results.set_defaults(command=_batch_results)


def _batch_submit(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    batch = client.batches.create(args.file, endpoint=args.endpoint)
    if not args.wait:
        out.print_json(json.dumps(batch)) if args.json else out.print(batch["id"])
        return 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        bar = progress.add_task(batch["id"], total=batch["request_counts"]["total"])

        def show(read: dict) -> None:
            counts = read["request_counts"]
            ended = counts["completed"] + counts["failed"] + counts["cancelled"]
            progress.update(bar, completed=ended, description=f"{read['id']} {read['status']}")

        done = client.batches.wait(batch["id"], timeout=args.timeout, on_progress=show)
    counts = done["request_counts"]
    if args.json:
        out.print_json(json.dumps(done))
    else:
        out.print(
            f"{done['id']} {done['status']}: {counts['completed']} completed, {counts['failed']} failed, "
            f"{counts['cancelled']} cancelled of {counts['total']}"
        )
    return 0 if done["status"] == "completed" else 1


def _batch_results(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    for line in client.batches.results(args.id):
        sys.stdout.write(json.dumps(line) + "\n")
    return 0
