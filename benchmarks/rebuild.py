"""The rebuild check (issue 16) beside the pipeline's own training: `samdkit verify-lock --rebuild`
(export the commit, `dvc checkout` the data, the train stage, hash and replay the golden set) against
`dvc repro --force train` on the default project."""

from __future__ import annotations

import json
import shutil

from benchmarks.figures import Context, Row, _na, _row
from benchmarks.timing import interleave, run


def rebuild_check(ctx: Context) -> list[Row]:
    if missing := ctx.available("verify-lock"):
        return [_na("rebuild check", "verify-lock --rebuild", "dvc repro --force train", missing)]
    source = ctx.project()
    project = ctx.work / "rebuild" / source.name
    shutil.copytree(source, project, symlinks=True)
    env = ctx.env(project)
    ours = ["samdkit", "verify-lock", "--rebuild"]
    res = interleave(
        {
            "samdkit": lambda: run(ours, cwd=project, env=env),
            "dvc": lambda: run(["dvc", "repro", "--force", "train"], cwd=project, env=env),
        },
        ctx.n(1, 3),
    )
    record = json.loads((project / "reports" / "rebuild.json").read_text())
    row = _row(
        "rebuild check",
        f"verify-lock --rebuild (verdict: {record['verdict']})",
        "dvc repro --force train",
        res["samdkit"],
        res["dvc"],
        goal="<= 1.0x (train stage + hashing)",
        note="last rebuild's phases: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in record.get("seconds", {}).items()),
    )
    assert row.ratio
    row.met = row.ratio["median"] <= 1.0
    row.extra["phases_s"] = record.get("seconds", {})
    shutil.rmtree(project.parent, ignore_errors=True)
    return [row]
