"""Each function's imports run with the garbage collector paused, and leave it running, with what they made
frozen out of its reach (asyncinfer.handlers.cold)."""

import gc
import subprocess
import sys
from pathlib import Path

from asyncinfer.handlers.cold import cold_start
from bench.coldstart import handler_modules

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def test_the_block_runs_with_collection_paused_and_ends_with_it_running_and_its_objects_frozen():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with cold_start():
            assert not gc.isenabled()
            made = [[i] for i in range(1000)]
            with cold_start():  # nested: the outer block resumes collection
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()


def test_collection_resumes_when_the_block_fails():
    try:
        with cold_start():
            raise ImportError("a module the function needs is missing")
    except ImportError:
        pass
    finally:
        gc.unfreeze()
    assert gc.isenabled()


def test_a_caller_that_turned_collection_off_keeps_it_off():
    gc.disable()
    try:
        with cold_start():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_every_function_s_import_leaves_collection_running_and_its_modules_frozen():
    code = (
        "import gc, importlib, sys; importlib.import_module(sys.argv[1]); print(gc.isenabled(), gc.get_freeze_count())"
    )
    for name, module in handler_modules().items():
        done = subprocess.run(
            [sys.executable, "-c", code, module],
            env={"PYTHONPATH": str(FUNCTIONS), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        enabled, frozen = done.stdout.split()
        assert enabled == "True" and int(frozen) > 10_000, (name, done.stdout)
