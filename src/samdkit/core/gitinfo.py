"""The one git runner: every samdkit question to git goes through here.

git is optional for most commands (a project copied out of its repository still reports), so a missing
git, a timeout or a folder that is no checkout is an answer (None), never an exception; the caller decides
whether that is a gap or an error.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

TIMEOUT = 20.0  # seconds; a hung credential helper or a huge repository must not hang a gate


def run_git(
    root: str | os.PathLike[str], *args: str, timeout: float = TIMEOUT, text: bool = True
) -> subprocess.CompletedProcess | None:
    """`git -C root ARGS`, output captured; None when git is missing or timed out (never raises)."""
    extra = {"errors": "replace"} if text else {}
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=text,
            timeout=timeout,
            check=False,
            **extra,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _out(root: str | os.PathLike[str], *args: str) -> str | None:
    done = run_git(root, *args)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() or None


def head_commit(root: str | os.PathLike[str]) -> str | None:
    """The full hash of HEAD (None outside a checkout or before the first commit)."""
    return _out(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")


def resolve_commit(root: str | os.PathLike[str], ref: str) -> str | None:
    """The full hash of the commit `ref` names (a branch, tag or hash), None when it names none."""
    return _out(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def commit_time(root: str | os.PathLike[str], ref: str = "HEAD") -> int | None:
    """The committer time of `ref` in Unix seconds."""
    out = _out(root, "log", "-1", "--format=%ct", ref, "--")
    return int(out) if out and out.isdigit() else None


def show_file(root: str | os.PathLike[str], ref: str, rel: str | os.PathLike[str]) -> bytes | None:
    """The bytes of `rel` (relative to root) at `ref` (`git show ref:./rel`); None when absent."""
    done = run_git(root, "show", f"{ref}:./{Path(rel).as_posix()}", text=False)
    return done.stdout if done is not None and done.returncode == 0 else None


def show_error(root: str | os.PathLike[str], ref: str, rel: str | os.PathLike[str]) -> str:
    """Why `show_file` found nothing: git's first error line, or that git is unavailable."""
    done = run_git(root, "show", f"{ref}:./{Path(rel).as_posix()}")
    if done is None:
        return "git is not available"
    lines = (done.stderr or "").strip().splitlines()
    return lines[0] if lines else f"git show exited {done.returncode}"


def is_dirty(
    root: str | os.PathLike[str], paths: Iterable[str | os.PathLike[str]] = ()
) -> bool | None:
    """Whether tracked files (under `paths`, default all) differ from HEAD; None outside a checkout."""
    if head_commit(root) is None:
        return None
    args = ["status", "--porcelain", "--untracked-files=no"]
    chosen = [Path(p).as_posix() for p in paths]
    done = run_git(root, *args, *(["--", *chosen] if chosen else []))
    if done is None or done.returncode != 0:
        return None
    return bool(done.stdout.strip())


def prefix(root: str | os.PathLike[str]) -> str:
    """root's path inside its repository ("" at the top, or outside a checkout), with a trailing /."""
    return _out(root, "rev-parse", "--show-prefix") or ""


def archive(root: str | os.PathLike[str], tree: str, timeout: float = 300.0) -> bytes | None:
    """A tar of `tree` (`commit` or `commit:prefix`), None when git cannot make it."""
    done = run_git(root, "archive", "--format=tar", tree, timeout=timeout, text=False)
    return done.stdout if done is not None and done.returncode == 0 else None
