"""`--reuse-pipeline` of the gates that a pipeline stage already ran (issue 19: each piece of work once).

`samdkit check-data` and `samdkit evaluate` are also stages of the generated dvc.yaml. When this job's
`samdkit pipeline-status --repro` ran that stage at HEAD (core.pipeline_run), the gate reads the stage's
output with its strict reader instead of computing it a second time. The stage is the one dvc.yaml names
as writing the file (never assumed); its command must be exactly the gate's own (flags that change only
where or how a result is shown are allowed), and every input the result pins by digest must still have
that digest. Anything else: the gate recomputes as it always did, and says why on one note line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAG = "--reuse-pipeline"
HELP = (
    "read the result this job's `samdkit pipeline-status --repro` computed in its dvc.yaml stage "
    "(ran at HEAD, output unchanged since) instead of computing it again; otherwise compute it, with a note"
)


@dataclass(frozen=True)
class Reuse:
    """The stage whose output the gate reads, and the commit the pipeline ran at."""

    stage: str
    commit: str

    @property
    def summary(self) -> str:
        return f"read from this job's pipeline (stage {self.stage} ran at {self.commit[:12]})"


def _stages(project: Any) -> dict[str, Any]:
    from samdkit.core import dvc_spec
    from samdkit.core.pipeline_run import dvc_file

    dvc_yaml = dvc_file(project)
    return dvc_spec.read_stages(dvc_yaml, project.shown(dvc_yaml))


def stage_writing(project: Any, output: Path) -> tuple[str, list[str]] | None:
    """The dvc.yaml stage that lists `output` among its outputs, with its commands; None if none does.
    Only a stage that runs in the project root: in another folder (`wdir`) the gate's command reads
    another project, and its outputs are other files."""
    from samdkit.core import dvc_spec

    rel = project.rel(output)
    for name, entry in _stages(project).items():
        if dvc_spec.wdir(entry) != ".":
            continue
        if rel and any(path == rel for path, _cached in dvc_spec.outputs(entry)):
            return str(name), dvc_spec.commands(entry)
    return None


def check(project: Any, output: Path, command: str) -> Reuse | str:
    """Reuse when this job's pipeline computed `output` with `command`; else the reason, one line."""
    from samdkit.core import pipeline_run

    found = stage_writing(project, output)
    shown = project.shown(output)
    if found is None:
        return f"no stage of dvc.yaml writes {shown}"
    stage, commands = found
    if not any(pipeline_run.same_command(line, command) for line in commands):
        return f"stage {stage} does not run '{command}' as the gate does"
    reason = pipeline_run.computed_here(project, stage=stage, output=output, command=command)
    if reason is not None:
        return reason
    record = pipeline_run.read(project)
    if record is None:  # computed_here just read it: only a concurrent change gets here
        return "no record of a pipeline run at this commit in this job"
    return Reuse(stage, record.commit)


def pinned_changed(root: Path, pins: list[tuple[str, str | None]]) -> str | None:
    """The first input (path, recorded SHA-256) whose file now has another digest; None if all match."""
    from samdkit.core.digests import sha256_hex

    for rel, sha256 in pins:
        path = root / rel
        if sha256 is None:
            return f"{rel} is not pinned by a digest in the result"
        if not path.is_file() or sha256_hex(path) != sha256:
            return f"{rel} changed after the pipeline computed the result"
    return None


def note(reason: str) -> None:
    """Why the gate computes again: one line on stderr (stdout stays the result, e.g. JSON)."""
    from samdkit.core.escape import terminal

    print(f"note: {FLAG}: computing again: {terminal(reason)}", file=sys.stderr)
