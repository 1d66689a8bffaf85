"""Timing primitives: one child process measured (wall time, its own peak RSS), interleaved repetitions."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mib: float  # peak resident set of the child process (and its waited-for children)
    rc: int


Cmd = Sequence[str | os.PathLike[str]]


def run(cmd: Cmd, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run one command, output discarded; wall time and the child's own peak RSS (os.wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode)


def sequence(steps: Sequence[Cmd], cwd: Path | None, env: dict[str, str] | None) -> Run:
    """Run steps one after the other (all of them, whatever their exit code): summed time, max RSS."""
    runs = [run(step, cwd, env) for step in steps]
    return Run(sum(r.seconds for r in runs), max(r.rss_mib for r in runs), max(r.rc for r in runs))


def interleave(
    cases: dict[str, Callable[[], Run]], reps: int, warmup: int = 0
) -> dict[str, list[Run]]:
    """Each repetition runs every case once, rotating the order, so load drifts hit all sides alike."""
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    results: dict[str, list[Run]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            results[name].append(cases[name]())
    return results


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def ratios(top: list[Run], bottom: list[Run]) -> list[float]:
    """Per-repetition ratio top/bottom (the runs of one repetition were interleaved)."""
    return [a.seconds / b.seconds for a, b in zip(top, bottom, strict=True)]
