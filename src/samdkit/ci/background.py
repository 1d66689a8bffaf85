"""Gates that run beside the next steps of a CI job (`samdkit gate --background NAME -- CMD`, `--wait`).

A job's steps run one after the other, but the pipeline's training keeps one core busy (one BLAS thread)
and leaves the runner's second core idle. A gate that needs none of the pipeline's outputs (lint) starts
in the background before the pipeline step: `--background` launches the ordinary `samdkit gate NAME -- CMD`
detached (its own session, output to `<gate>.log` beside its result, no CI output files), records the
process in `<gate>.running`, and returns at once. `samdkit gate --wait` (and `--verdict`, which waits
first) blocks until every started gate has recorded its result, prints each one's log, publishes its
step outputs and summary line in the waiting step, and records ERROR for a gate that ended without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from samdkit.core.errors import UserError

RUNNING = ".running"
LOG = ".log"
POLL_SECONDS = 0.2
WAIT_LIMIT_SECONDS = 3600.0  # a gate still running after an hour is recorded as ERROR (no result)


def start(result: Path, name: str, cmd: list[str], fix: list[str]) -> int:
    """Launch `samdkit gate NAME -- CMD` detached (it writes `result`); the marker names its process."""
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)  # a result from before this start is not this run's
    argv = [sys.executable, "-m", "samdkit", "gate", name]
    for command in fix:
        argv += ["--fix", command]
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    log = result.with_suffix(LOG)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*argv, "--", *cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # the step's end does not stop it; the job's end does
            close_fds=True,
        )
    marker = {"name": name, "pid": proc.pid, "started": time.time()}
    result.with_suffix(RUNNING).write_text(json.dumps(marker), encoding="utf-8")
    print(f"gate {name}: started beside the next steps (`samdkit gate --wait` collects it)")
    return 0


def _ours(pid: int) -> bool:
    """The process is a `samdkit gate` (a marker planted with the commit may name any live process,
    e.g. pid 1, and would hold the job until its timeout); True where /proc cannot tell."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return Path("/proc/self").exists() is False  # gone on Linux; unknown elsewhere
    except OSError:
        return True
    words = cmdline.split(b"\0")
    return b"samdkit" in words and b"gate" in words


def _alive(pid: int) -> bool:
    if not _ours(pid):
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # our own child when started in this process
        return waited == 0
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _marker(path: Path) -> tuple[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        name, pid = data["name"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{path.name}: not a samdkit background-gate marker") from None
    if not isinstance(name, str) or isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise UserError(f"{path.name}: not a samdkit background-gate marker")
    return name, pid


def wait(folder: Path) -> Iterator[tuple[str, Path]]:
    """Each started gate once it ended: (name, its result path, maybe absent); its log is printed."""
    for marker in sorted(folder.glob(f"*{RUNNING}")) if folder.is_dir() else []:
        name, pid = _marker(marker)
        deadline = time.monotonic() + WAIT_LIMIT_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        log = marker.with_suffix(LOG)
        if log.is_file():
            sys.stdout.write(log.read_text(encoding="utf-8", errors="replace"))
            log.unlink()
        marker.unlink()
        yield name, marker.with_suffix(".json")
