"""`python -m bench [--smoke]`: every benchmark, one table. --smoke runs each small (CI keeps them working)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small runs: checks the benchmarks work, not figures")
    parser.add_argument(
        "--only",
        help="comma-separated rows to run: cost,coldstart,throughput,batch,stream,finish,long,idempotent,eta,"
        "provider_batch,density",
    )
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help="also put the table, dated, between FILE's bench markers"
    )
    args = parser.parse_args(argv)
    if args.smoke and args.write:
        parser.error("--smoke figures are not meaningful: they are never written")
    if args.smoke:
        os.environ["BENCH_SMOKE"] = "1"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's request log

    from bench import (
        batch,
        coldstart,
        cost,
        density,
        eta,
        finish,
        idempotent,
        long,
        provider_batch,
        stream,
        throughput,
    )

    benches = {
        "cost": cost,
        "coldstart": coldstart,
        "throughput": throughput,
        "batch": batch,
        "stream": stream,
        "finish": finish,
        "long": long,
        "idempotent": idempotent,
        "eta": eta,
        "provider_batch": provider_batch,
        "density": density,
    }
    chosen = args.only.split(",") if args.only else list(benches)
    rows = []
    started = time.perf_counter()
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.append(benches[name].run())
    width = max(len(r.name) for r in rows)
    print(f"\nasyncinfer benchmarks{' (smoke: small runs, figures not meaningful)' if args.smoke else ''}")
    print(f"{'row':<{width}}  {'result':<6}  figure  [target]")
    for row in rows:
        print(f"{row.name:<{width}}  {'met' if row.met else 'MISSED':<6}  {row.figure}  [{row.target}]")
        for line in row.details:
            print(textwrap.indent(textwrap.fill(line, 110, subsequent_indent="  "), " " * (width + 10)))
    print(f"\n{len(rows)} rows in {time.perf_counter() - started:.0f} s")
    if args.write:
        from bench.report import write

        write(args.write, rows, time.perf_counter() - started)
        print(f"written to {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
