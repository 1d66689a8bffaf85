"""The benchmark harness's arithmetic (no timings are asserted: benchmarks report, tests do not time)."""

from __future__ import annotations

import sys

from benchmarks.__main__ import table
from benchmarks.figures import Row, _row
from benchmarks.timing import Run, interleave, ratios, run, spread


def test_interleave_rotates_the_order_so_drift_hits_every_side():
    calls: list[str] = []

    def case(name: str):
        return lambda: (calls.append(name), Run(1.0, 1.0, 0))[1]

    results = interleave({n: case(n) for n in "abc"}, reps=3, warmup=1)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert {n: len(r) for n, r in results.items()} == {"a": 3, "b": 3, "c": 3}


def test_ratios_pair_the_runs_of_one_repetition():
    ours = [Run(2.0, 0, 0), Run(3.0, 0, 0), Run(9.0, 0, 0)]
    theirs = [Run(1.0, 0, 0), Run(3.0, 0, 0), Run(3.0, 0, 0)]
    assert ratios(ours, theirs) == [2.0, 1.0, 3.0]
    assert spread(ratios(ours, theirs)) == {"min": 1.0, "median": 2.0, "max": 3.0}
    inverse = _row("f", "c", "b", ours, theirs, inverse=True)  # throughput: baseline / samdkit
    assert inverse.ratio == spread([1 / 2, 3 / 3, 3 / 9])
    assert inverse.ratio["median"] == 0.5


def test_a_failed_run_is_named_in_the_row():
    ok, failed = Run(1.0, 0, 0), Run(1.0, 0, 1)
    row = _row("f", "c", "b", [ok, failed], [ok, ok])
    assert "non-zero exits [1]" in row.note


def test_run_measures_the_child_exit_code_and_memory():
    done = run([sys.executable, "-c", "import sys; b = bytearray(64 << 20); sys.exit(3)"])
    assert done.rc == 3
    assert done.rss_mib >= 64
    assert done.seconds > 0


def test_table_marks_missed_goals_and_lists_notes():
    rows = [
        Row(
            "a",
            "x",
            "base",
            ratio={"min": 1.0, "median": 1.5, "max": 2.0},
            goal="<= 1.2x",
            met=False,
        ),
        Row("b", "y", "-", goal="flat", met=True, note="37 MiB"),
    ]
    text = table(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| figure")
    assert "| NO " in lines[2] and "1.00/1.50/2.00x" in lines[2]
    assert "| yes " in lines[3]
    assert "- b, y: 37 MiB" in text
