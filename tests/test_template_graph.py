"""The generated pipeline's graph is complete: every file and params.yaml key a stage reads is declared.

Each input of the default project (after its pipeline ran) is changed in turn, and `dvc status` must name
exactly the stages that read it: a new version of the raw data reruns prepare (it used to keep the old
prepared data), a new subgroup column reruns train and evaluate (evaluate used to crash on a stale model
schema). The expected readers below are what each stage's code opens (the template's modules and the
samdkit command it runs), not a copy of dvc.yaml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

PKG = "{pkg}"
# samdkit commands read pyproject.toml ([tool.samdkit]) and params.yaml; lock and report the whole file
SAMDKIT_ALL_PARAMS = {"lock", "report"}
FILES = {
    "data/raw/new-export.csv": {"prepare"},
    f"src/{PKG}/data.py": {"prepare"},
    f"src/{PKG}/config.py": {"prepare", "check-data", "train", "evaluate"},
    f"src/{PKG}/model.py": {"train", "evaluate"},
    f"src/{PKG}/train.py": {"train"},
    f"src/{PKG}/evaluate.py": {"evaluate"},
    "pyproject.toml": {"check-data", "evaluate", "lock", "report"},
    "compliance/expectations/train.json": {"check-data"},
    "compliance/requirements.yaml": {"check-data", "evaluate", "report"},
    "compliance/device.yaml": {"report"},
    "compliance/risks.yaml": {"report"},
    "compliance/model-card.yaml": {"report"},
    "compliance/regulatory.yaml": {"report"},
    "compliance/pccp.yaml": {"report"},
    "data/prepared/train.csv": {"check-data", "train", "lock"},
    "data/prepared/test.csv": {"check-data", "evaluate", "lock"},
    "reports/data-check.json": {"train", "report"},
    "reports/train_run.json": {"evaluate", "lock", "report"},
    "reports/emissions.csv": {"report"},
    "reports/predictions.csv": {"report"},
    "reports/evaluation.json": {"lock", "report"},
    "models/model/MLmodel": {"evaluate", "lock"},
    "model.lock": {"report"},
}
PARAMS = {
    "data.source": {"prepare", "check-data"},
    "data.id_column": {"prepare", "check-data", "train", "evaluate"},
    "data.label_column": {"prepare", "check-data", "train", "evaluate"},
    "data.positive_label": {"prepare", "train", "evaluate"},
    "data.classes": {"prepare", "train", "evaluate"},
    "data.numeric_features": {"prepare", "train", "evaluate"},
    "data.categorical_features": {"prepare", "train", "evaluate"},
    "data.subgroup_columns": {"prepare", "train", "evaluate"},
    "data.exclude_columns": {"prepare", "train", "evaluate"},
    "data.test_size": {"prepare"},
    "data.seed": {"prepare"},
    "data.golden_rows": {"prepare"},
    "train.C": {"train"},
    "train.seed": {"train"},
    "evaluate.threshold": {"train", "evaluate"},
    "mlflow.experiment": {"train"},
}


def changed(project: Path) -> set[str]:
    """The stages whose declared inputs (files or params) differ from dvc.lock."""
    from dvc.repo import Repo  # DVC's own `dvc status`, in process: a second per call, not five

    with Repo(str(project)) as repo:
        status = repo.status()
    return {
        stage.rsplit(":", 1)[-1]  # "path/dvc.yaml:stage" when run from another folder
        for stage, entries in status.items()
        if any(isinstance(e, dict) and "changed deps" in e for e in entries)
    }


def edit(path: Path) -> None:
    """A new version of the file (a copy, never a write through a DVC cache link)."""
    if not path.exists():
        path.write_text("id,value\n1,2\n")
        return
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data + (b"\n" if path.suffix != ".json" else b" "))


def test_each_input_reruns_exactly_its_readers(project_copy):
    project = project_copy
    assert changed(project) == set(), "clean after the pipeline ran"
    for name, readers in FILES.items():
        path = project / name.format(pkg=project.name)
        saved = project.parent / "saved"
        if path.exists():
            shutil.copy2(path, saved)
        edit(path)
        try:
            assert changed(project) == readers, name
        finally:
            path.unlink()
            if saved.exists():
                saved.replace(path)
    params_file = project / "params.yaml"
    original = params_file.read_text()
    for key, readers in PARAMS.items():
        doc = yaml.safe_load(original)
        *parents, last = key.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = ["changed"] if isinstance(node[last], list) else "changed"
        params_file.write_text(yaml.safe_dump(doc, sort_keys=False))
        try:
            assert changed(project) == readers | SAMDKIT_ALL_PARAMS, key
        finally:
            params_file.write_text(original)
    assert changed(project) == set()
