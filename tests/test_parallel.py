"""samdkit.parallel: work spread over forked workers gives what running it in order gives."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from samdkit.core import parallel

# run in a fresh interpreter: the test process may hold threads, where samdkit.parallel refuses to fork
PROBE = """
import json, os
from samdkit.core import parallel
from tests.test_parallel import pid_and_square
can_fork = parallel.can_fork()
results = parallel.map_ordered(pid_and_square, range(6), workers=2)
late = parallel.submit(pid_and_square, 7).result()
try:
    parallel.submit(pid_and_square, -1).result()
    raised = None
except ValueError as error:
    raised = str(error)
print(json.dumps({"parent": os.getpid(), "results": results, "late": late, "raised": raised,
                  "can_fork": can_fork}))
"""


def pid_and_square(n: int) -> list[int]:
    import os

    if n < 0:
        raise ValueError(f"negative: {n}")
    return [os.getpid(), n * n]


def test_forked_workers_keep_order_and_raise_the_workers_error():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=root, check=True
    )
    out = json.loads(done.stdout)
    assert out["can_fork"] is (sys.platform == "linux")
    assert [square for _, square in out["results"]] == [n * n for n in range(6)]
    assert out["late"][1] == 49
    assert out["raised"] == "negative: -1"
    if sys.platform == "linux":
        pids = {pid for pid, _ in out["results"]} | {out["late"][0]}
        assert out["parent"] not in pids  # the work ran in other processes


def test_beside_other_threads_the_work_runs_here_in_order():
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert not parallel.can_fork()
        import os

        results = parallel.map_ordered(pid_and_square, range(4), workers=2)
        assert results == [[os.getpid(), n * n] for n in range(4)]
        with pytest.raises(ValueError, match="negative"):
            parallel.submit(pid_and_square, -2).result()
    finally:
        stop.set()
        helper.join()
