"""`python -m bench --write FILE`: one run's rows, dated, replace the table between FILE's markers and nothing else."""

from datetime import UTC, datetime

import pytest

from bench.common import Row
from bench.report import BEGIN, END, table, write

ROWS = [
    Row("a. cost", "$21.99 | floor $21.21", "<= 1.15x", True, ["200 tasks", "prices dated"]),
    Row("b. imports", "worst 2.1x", "<= 2.0x", False, []),
]


def test_the_table_is_dated_and_says_each_rows_result():
    text = table(ROWS, datetime(2026, 12, 7, tzinfo=UTC), "abc1234", 600)
    assert "on 2026-12-07 (commit `abc1234`), 10 minutes" in text
    assert "| a. cost | $21.99 \\| floor $21.21 | <= 1.15x | met |" in text  # a pipe in a figure stays in its cell
    assert "| b. imports | worst 2.1x | <= 2.0x | MISSED |" in text
    assert "    - prices dated" in text


def test_only_what_lies_between_the_markers_is_replaced(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\nintro\n\n{BEGIN}\nold table\n{END}\n\nHow each is measured\n")
    write(page, ROWS, 60)
    text = page.read_text()
    assert "old table" not in text
    assert text.startswith("# Performance\n\nintro\n\n" + BEGIN + "\n")
    assert text.endswith(END + "\n\nHow each is measured\n")
    assert "| a. cost |" in text
    write(page, ROWS[1:], 60)  # a second run replaces the first's table
    assert "| a. cost |" not in page.read_text() and page.read_text().count(BEGIN) == 1


def test_a_page_without_markers_is_left_alone(tmp_path):
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n")
    with pytest.raises(SystemExit, match="no bench markers"):
        write(page, ROWS, 60)
    assert page.read_text() == "# Performance\n"
