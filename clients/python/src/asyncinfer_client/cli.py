"""`aic`: the asyncinfer client on the command line. The base URL and key come from --base-url/--api-key or
ASYNCINFER_BASE_URL/ASYNCINFER_API_KEY; --json prints what the API answered, for scripts."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

try:  # the `cli` extra: the library itself needs none of it
    from rich.console import Console
    from rich.table import Table
except ImportError:
    Console = None

from asyncinfer_client.cli_batches import add_batch_commands
from asyncinfer_client.client import Client, Task
from asyncinfer_client.errors import APIError, TaskFailed, WaitTimeout
from asyncinfer_client.events import Event
from asyncinfer_client.views import TaskView

# timeout(1)'s exit status when its command ran out of time; a shell's for a command stopped by Ctrl-C.
TIMED_OUT = 124
INTERRUPTED = 130
STATE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "asyncinfer" / "watch"


def main(argv: list[str] | None = None) -> int:
    if Console is None:
        print("aic needs the client's cli extra: pip install 'asyncinfer-client[cli]'", file=sys.stderr)
        return 1
    parser = _parser()
    args = parser.parse_args(argv)
    base_url = args.base_url or os.environ.get("ASYNCINFER_BASE_URL")
    api_key = args.api_key or os.environ.get("ASYNCINFER_API_KEY")
    if not base_url or not api_key:
        parser.error("give --base-url and --api-key (or ASYNCINFER_BASE_URL and ASYNCINFER_API_KEY)")
    out, err = Console(), Console(stderr=True)
    try:
        with Client(base_url, api_key, timeout=args.request_timeout) as client:
            return args.command(client, args, out, err)
    except APIError as exc:
        err.print(f"[red]error[/red] {exc.status} {exc.code}: {exc.message}", markup=True, highlight=False)
        return 1
    except (TaskFailed, WaitTimeout) as exc:
        err.print(f"[red]{exc}[/red]")
        return 1
    except httpx.TransportError as exc:
        err.print(f"[red]error[/red] cannot reach {base_url}: {type(exc).__name__}: {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        err.print("\ninterrupted")
        return INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aic", description=__doc__)
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per request (30)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON, nothing else")
    commands = parser.add_subparsers(required=True)

    run = commands.add_parser("run", help="submit a chat completion and stream its answer live")
    run.add_argument("model")
    run.add_argument("prompt")
    _tier_option(run)
    _timeout_options(run)
    run.set_defaults(command=_run)

    submit = commands.add_parser("submit", help="submit a chat completion; prints its id")
    submit.add_argument("model")
    submit.add_argument("prompt")
    _tier_option(submit)
    submit.set_defaults(command=_submit)

    generate = commands.add_parser("generate", help="an image, audio or video generation; prints its id")
    generate.add_argument("model")
    generate.add_argument("prompt")
    generate.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config field (JSON values: duration=6)"
    )
    generate.add_argument("--wait", action="store_true", help="wait until it ends; print its status")
    generate.add_argument("--download", metavar="DIR", help="wait, then save its files into DIR")
    generate.add_argument("--timeout", type=float, default=600.0)
    _tier_option(generate)
    generate.set_defaults(command=_generate)

    watch = commands.add_parser("watch", help="follow a task's events (again: from where it left off)")
    watch.add_argument("id")
    watch.add_argument("--from-start", action="store_true", help="from its first event, not where it left off")
    _timeout_options(watch)
    watch.set_defaults(command=_watch)

    ls = commands.add_parser("ls", help="your tasks, newest first")
    ls.add_argument("--limit", type=int, default=20)
    ls.set_defaults(command=_ls)

    cancel = commands.add_parser("cancel", help="cancel a task")
    cancel.add_argument("id")
    cancel.set_defaults(command=_cancel)

    rm = commands.add_parser("rm", help="delete a task (cancelled first if still running)")
    rm.add_argument("id")
    rm.set_defaults(command=_rm)

    download = commands.add_parser("download", help="save a generation's files")
    download.add_argument("id")
    download.add_argument("dir")
    download.add_argument("--timeout", type=float, default=600.0)
    download.set_defaults(command=_download)

    add_batch_commands(commands)
    return parser


def _tier_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--service-tier", choices=("priority", "default", "flex"), help="the task's class")


def _tier(args: argparse.Namespace) -> dict[str, str]:
    return {"service_tier": args.service_tier} if args.service_tier else {}


def _timeout_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--timeout", type=float, default=600.0, help="seconds to follow the task (600)")
    command.add_argument(
        "--on-timeout",
        choices=("detach", "cancel"),
        default="detach",
        help="when --timeout passes: leave the task running and exit 124 (detach), or cancel it",
    )


def _json(out: Console, value: Any) -> None:
    out.print_json(json.dumps(value))


def _run(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    task = client.submit(args.model, prompt=args.prompt, **_tier(args))
    return _follow(task, args, out, err, after=0)


def _follow(task: Task, args: argparse.Namespace, out: Console, err: Console, after: int) -> int:
    """Deltas to stdout as they come; tool steps and status to stderr; the last event seen remembered."""
    try:
        _stream(task, args, out, err, after)
    except KeyboardInterrupt:
        out.file.flush()
        err.print(f"\nstopped following {task.id}; it keeps running: aic watch {task.id}")
        return INTERRUPTED
    except WaitTimeout:
        if args.on_timeout == "cancel":
            err.print(f"\n{task.id} {task.cancel().get('status')} after {args.timeout:g} s")
            return 1
        err.print(f"\n{task.id} still running after {args.timeout:g} s; follow it with: aic watch {task.id}")
        return TIMED_OUT
    done = task.get()
    if args.json:
        _json(out, done)
    else:
        out.print()
        out.file.flush()  # the answer ends before the status line starts, piped or not
        usage = done.get("usage") or {}
        err.print(f"[bold]{done.get('status')}[/bold] {task.id} · {usage.get('total_tokens', 0)} tokens")
    return 0 if str(done.get("status")).upper() == "COMPLETED" else 1


def _stream(task: Task, args: argparse.Namespace, out: Console, err: Console, after: int) -> None:
    events: list[Event] = []
    with err.status(f"{task.id} running", spinner="dots") as status:
        for event in task.events(starting_after=after, timeout=args.timeout):
            events.append(event)
            if event.seq is not None:
                _remember(task.id, event.seq)
            if args.json:
                continue
            if event.type == "delta":
                out.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
            elif event.type == "tool_call":
                err.print(f"[cyan]→ {event.data.get('name')}[/cyan] {event.data.get('arguments', '')}")
            elif event.type == "tool_result":
                err.print(f"[cyan]← {event.data.get('name')}[/cyan]")
            elif event.type == "restart":
                err.print(f"[yellow]restart[/yellow] {event.data}")
            elif event.type == "progress" and (line := progress_line(event.data)):
                err.print(f"[cyan]{line}[/cyan]", highlight=False)
            status.update(f"{task.id} running, {len([e for e in events if e.seq])} events")


def progress_line(data: Any) -> str | None:
    """An upstream job's progress event as one line: its time so far and its model's usual time, or its
    percent. None for a tool loop's steps (their tool calls have lines of their own)."""
    if not isinstance(data, dict) or data.get("step") is not None:
        return None
    elapsed, usual = data.get("elapsed_seconds"), data.get("estimated_seconds")
    if elapsed is None:
        return None if data.get("percent") is None else f"{data['percent']:g}% done"
    if usual is None:
        return f"running {elapsed} s"
    return f"running {elapsed} s " + (f"of about {usual} s" if elapsed <= usual else f"(past the usual {usual} s)")


def _remember(task_id: str, seq: int) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / task_id).write_text(str(seq))


def _submit(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    task = client.submit(args.model, prompt=args.prompt, **_tier(args))
    if args.json:
        _json(out, task.last)
    else:
        out.print(task.id)
    return 0


def _generate(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    config: dict[str, Any] = {"prompt": args.prompt}
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            err.print(f"--set takes KEY=VALUE, not {pair!r}")
            return 2
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    task = client.generate(args.model, config, **_tier(args))
    if not (args.wait or args.download):
        _json(out, task.last) if args.json else out.print(task.id)
        return 0
    with err.status(f"{task.id} running", spinner="dots") as spinner:

        def show(read: TaskView) -> None:
            line = progress_line(read.progress)
            spinner.update(f"{task.id} {read.status}" + (f", {line}" if line else ""))

        done = task.wait(timeout=args.timeout, on_read=show)
    if args.download and done.status == "completed":
        args.id, args.dir = task.id, args.download
        return _download(client, args, out, err)
    _json(out, done) if args.json else out.print(f"{task.id} {done.get('status')}")
    return 0 if done.status == "completed" else 1


def _watch(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    seen = STATE / args.id
    after = 0 if args.from_start or not seen.exists() else int(seen.read_text() or 0)
    if after:
        err.print(f"resuming after event {after}")
    return _follow(client.attach(args.id), args, out, err, after)


def _ls(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    listed = client.list(limit=args.limit)
    if args.json:
        _json(out, listed)
        return 0
    tasks = listed.get("tasks", [])
    table = Table()
    # Whole ids whatever the terminal's width, so that one can be copied into aic cancel or watch.
    table.add_column("id", no_wrap=True, min_width=max((len(t["id"]) for t in tasks), default=2))
    for name in ("status", "model", "created"):
        table.add_column(name)
    for task in tasks:
        table.add_row(task["id"], task["status"], task.get("model", ""), task.get("created_at", ""))
    out.print(table)
    return 0


def _cancel(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    done = client.attach(args.id).cancel()
    _json(out, done) if args.json else out.print(f"{args.id} {done.get('status')}")
    return 0


def _rm(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    client.attach(args.id).delete()
    if not args.json:
        out.print(f"{args.id} deleted")
    return 0


def _download(client: Client, args: argparse.Namespace, out: Console, err: Console) -> int:
    task = client.attach(args.id)
    with err.status(f"{args.id} waiting for its files", spinner="dots"):
        saved = task.download(args.dir, timeout=args.timeout)
    if not saved:
        err.print(f"{args.id} has no files to download (only generations have files)")
        return 1
    if args.json:
        _json(out, [str(p) for p in saved])
    else:
        for path in saved:
            out.print(f"{path}  ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
