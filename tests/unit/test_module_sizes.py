"""The module-size check `make lint` runs (infra/module_sizes.py)."""

from __future__ import annotations

from infra.module_sizes import LIMIT, oversized


def test_a_module_over_the_bound_is_named_and_one_at_it_is_not(tmp_path):
    package = tmp_path / "functions" / "asyncinfer" / "tasks"
    package.mkdir(parents=True)
    (package / "big.py").write_text("x = 1\n" * (LIMIT + 1))
    (package / "fits.py").write_text("x = 1\n" * LIMIT)
    client = tmp_path / "clients" / "python" / "src" / "asyncinfer_client"
    client.mkdir(parents=True)
    (client / "cli.py").write_text("\n" * (LIMIT + 5))  # blank lines count: an editor shows them
    local = tmp_path / "infra" / "local"
    local.mkdir(parents=True)
    (local / "emulator.py").write_text("# a comment\n" * (LIMIT + 2))
    assert oversized(tmp_path) == [
        ("clients/python/src/asyncinfer_client/cli.py", LIMIT + 5),
        ("infra/local/emulator.py", LIMIT + 2),
        ("functions/asyncinfer/tasks/big.py", LIMIT + 1),
    ]
