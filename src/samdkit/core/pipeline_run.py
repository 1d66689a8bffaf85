"""Was this output computed by this job's own pipeline run? (issue 19: each piece of work once)

`samdkit pipeline-status --repro` runs `dvc repro` and records, in its gate result
(reports/gates/pipeline.json, `detail.repro`), the commit it ran at, the stages DVC actually ran (not
skipped, not restored from DVC's run cache) and the digest of each of their outputs right after the
run. A gate that would recompute what a stage just computed reads the stage's output instead when
`computed_here` says so; an output restored from a remote or a cache, edited since, or written by
another command is recomputed, as before.

A record committed to the repository cannot pass: it would have to name the commit it is part of.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core import digests, gitinfo
from samdkit.core.errors import UserError

RECORD_FILE = "pipeline.json"  # under the paths table's gate_results folder
# flags that change where or how a result is shown, never what it holds
NEUTRAL_FLAGS = {"--no-mlflow": 0, "--format": 1}
# one plain command: no character the shell reads as a separator, redirection, substitution or pattern
# (`--format=json;cat<fake>out` is one word to shlex and two commands to the shell)
PLAIN_COMMAND = re.compile(r"[\w \t=.,:/@%+'\"-]*")


@dataclass(frozen=True)
class ReproRecord:
    """What one `pipeline-status --repro` ran: commit (40 hex), stages run, output digests (SHA-256)."""

    commit: str
    remote: bool
    source_date_epoch: int | None
    stages_run: tuple[str, ...]
    outputs: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "remote": self.remote,
            "source_date_epoch": self.source_date_epoch,
            "stages_run": list(self.stages_run),
            "outputs": dict(sorted(self.outputs.items())),
        }


def output_digest(path: Path) -> str | None:
    """SHA-256 of a file, or the root digest of a folder (model.lock's construction); None if absent."""
    if path.is_file() and not path.is_symlink():
        return digests.sha256_hex(path)
    if path.is_dir() and not path.is_symlink():
        try:
            return digests.root_digest((f.path, f.sha256) for f in digests.tree_digests(path))
        except UserError:
            return None
    return None


def _is_hex(value: Any, length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) == length
        and all(c in "0123456789abcdef" for c in value)
    )


def parse(detail: Any) -> ReproRecord | None:
    """A `detail.repro` object as a record; None when any field is missing or of the wrong shape."""
    if not isinstance(detail, dict):
        return None
    commit, stages, outputs = detail.get("commit"), detail.get("stages_run"), detail.get("outputs")
    epoch = detail.get("source_date_epoch")
    if not _is_hex(commit, 40) or not isinstance(detail.get("remote"), bool):
        return None
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        return None
    if not isinstance(outputs, dict) or not all(
        isinstance(k, str) and _is_hex(v, 64) for k, v in outputs.items()
    ):
        return None
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int)):
        return None
    return ReproRecord(commit, detail["remote"], epoch, tuple(stages), dict(outputs))


def record_path(project: Any) -> Path:
    return project.path("gate_results") / RECORD_FILE


def read(project: Any) -> ReproRecord | None:
    """This job's record, or None: absent, not a pipeline gate result, or made at another commit."""
    from samdkit.core.findings import read_result

    path = record_path(project)
    if not path.is_file() or path.is_symlink():
        return None
    try:
        result = read_result(path)
    except (UserError, RecursionError):  # a planted record nested too deeply is no record either
        return None
    record = parse(result.detail.get("repro")) if result.gate == "pipeline" else None
    if record is None or record.commit != gitinfo.head_commit(project.root):
        return None
    return record


def dvc_file(project: Any) -> Path:
    """The dvc.yaml `dvc repro` ran, whose stage names the record lists: the root's, whatever
    `paths.dvc_yaml` says (DVC reads no other file)."""
    return project.root / "dvc.yaml"


def _stage_commands(project: Any, stage: str) -> list[str]:
    from samdkit.core import dvc_spec

    dvc_yaml = dvc_file(project)
    return dvc_spec.commands(dvc_spec.read_stages(dvc_yaml, project.shown(dvc_yaml)).get(stage))


def same_command(line: str, command: str) -> bool:
    """`line` runs `command` with no flag that changes its result."""
    import shlex

    if not PLAIN_COMMAND.fullmatch(line):
        return False
    try:
        words, want = shlex.split(line), shlex.split(command)
    except ValueError:
        return False
    if words[: len(want)] != want:
        return False
    rest = words[len(want) :]
    while rest:
        flag, _, value = rest[0].partition("=")
        if flag not in NEUTRAL_FLAGS:
            return False
        rest = rest[1 + (NEUTRAL_FLAGS[flag] if not value else 0) :]
    return True


def computed_here(
    project: Any, stage: str, output: str | os.PathLike[str], command: str | None = None
) -> str | None:
    """None when `output` was computed by this job's `dvc repro` at HEAD and is unchanged since; with
    `command`, also only when the stage's last command is that one (samdkit's own, so reading its
    output equals recomputing it). Otherwise one line saying why not (the caller recomputes)."""
    record = read(project)
    if record is None:
        return "no record of a pipeline run at this commit in this job"
    if stage not in record.stages_run:
        return (
            f"stage {stage} did not run in this job's pipeline (its outputs were restored or kept)"
        )
    commands = _stage_commands(project, stage)
    last = commands[-1].strip() if commands else ""
    if command is not None and not same_command(last, command):
        return f"the last command of stage {stage} is not '{command}'"
    output = Path(output) if Path(output).is_absolute() else project.root / output
    rel = project.rel(output)
    recorded = record.outputs.get(rel) if rel else None
    if recorded is None:
        return f"{project.shown(output)} is not an output the pipeline run recorded"
    if output_digest(output) != recorded:
        return f"{project.shown(output)} changed after the pipeline ran"
    return None
