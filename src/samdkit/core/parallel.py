"""Independent, CPU-bound work on the machine's other cores: forked worker processes.

A CI runner has two cores or more and Python holds one of them per process, so the report draws its plots,
the evaluation bootstraps its subgroups and check-data validates its suites in forked workers. Fork copies the parent's loaded modules and data
for free; it is used only on Linux in a process without other threads (fork beside threads can deadlock,
macOS forbids it after some system libraries load, Windows has none). Anywhere else the work runs here, in
order: same results, only slower. Results must not depend on where they are computed (seeded RNGs only).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def can_fork() -> bool:
    return sys.platform == "linux" and threading.active_count() == 1


# Tasks reach the workers by inheritance, not pickling: registered here before the pool forks, so a
# task may hold anything (GX contexts, data frames, closures); only its key and its result are pickled.
_inherited: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
_keys = itertools.count()


def _call_inherited(key: int) -> Any:
    fn, args = _inherited[key]
    return fn(*args)


def _pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def _register(fn: Callable[..., Any], args: tuple[Any, ...]) -> int:
    key = next(_keys)
    _inherited[key] = (fn, args)
    return key


def submit(fn: Callable[..., R], *args: Any) -> Future[R]:
    """fn(*args) in one forked worker while the caller goes on; `.result()` collects it (or re-raises)."""
    if not can_fork():
        done: Future[R] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as error:  # re-raised by .result(), as from a worker
            done.set_exception(error)
        return done
    key = _register(fn, args)
    pool = _pool(1)
    running = pool.submit(_call_inherited, key)  # the worker forks here, inheriting the task
    pool.shutdown(wait=False)  # the worker finishes its task, then exits
    running.add_done_callback(lambda _: _inherited.pop(key, None))
    return running


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """[fn(item) for item in items], spread over forked workers (one per core by default)."""
    items = list(items)
    workers = min(workers or os.cpu_count() or 1, len(items))
    if workers < 2 or not can_fork():
        return [fn(item) for item in items]
    keys = [_register(fn, (item,)) for item in items]
    try:
        with _pool(workers) as pool:
            return list(pool.map(_call_inherited, keys))
    finally:
        for key in keys:
            _inherited.pop(key, None)
