"""`python -m bench.imports_against DIR`: row b's figures for this tree and for another checkout (DIR, e.g. a
`git worktree` of the commit before a change) in one run, their imports alternated so both see the same
machine: each handler's import as a ratio to `import boto3` (medians of 5), and the worst of each."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import coldstart
from bench.common import median

HERE = coldstart.ROOT


def _seconds(root: Path, module: str) -> float:
    coldstart.ROOT = root
    return coldstart.import_seconds(module)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports_against", description=__doc__)
    parser.add_argument("other", type=Path, help="the other checkout's root (its functions/ is imported)")
    parser.add_argument("--runs", type=int, default=coldstart.RUNS)
    args = parser.parse_args(argv)
    trees = {"before": args.other.resolve(), "after": HERE}
    modules = {"boto3": "boto3", **coldstart.handler_modules()}
    times: dict[str, dict[str, list[float]]] = {name: {tree: [] for tree in trees} for name in modules}
    for module in modules.values():  # warm each tree's bytecode cache
        for root in trees.values():
            _seconds(root, module)
    for _ in range(args.runs):
        for name, module in modules.items():
            for tree, root in trees.items():
                times[name][tree].append(_seconds(root, module))
    base = {tree: median(times["boto3"][tree]) for tree in trees}
    print(f"import boto3: before {base['before'] * 1000:.0f} ms, after {base['after'] * 1000:.0f} ms")
    ratios = {
        name: {tree: median(times[name][tree]) / base[tree] for tree in trees} for name in modules if name != "boto3"
    }
    for name, ratio in sorted(ratios.items()):
        print(f"{name:16} before {ratio['before']:.2f}x  after {ratio['after']:.2f}x")
    worst = {tree: max(ratios, key=lambda n, t=tree: ratios[n][t]) for tree in trees}
    before, after = ratios[worst["before"]]["before"], ratios[worst["after"]]["after"]
    print(
        f"worst before: {worst['before']} {before:.2f}x; worst after: {worst['after']} {after:.2f}x; "
        f"after / before = {after / before:.3f}"
    )


if __name__ == "__main__":
    main()
