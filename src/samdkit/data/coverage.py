"""Coverage: every dataset of the pipeline has a suite or a stated exemption, or the check fails naming it.

The pipeline's datasets: the train/test/golden path keys, dvc.yaml deps and outs under data/, and a data file
named by params.yaml data.source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdkit.core.project import Project, read_yaml, shown_path
from samdkit.data.reading import is_data_file
from samdkit.data.sources import Source

PIPELINE_KEYS = ("train_data", "test_data", "golden_data")


def _dvc_paths(project: Project) -> list[str]:
    dvc = project.root / "dvc.yaml"
    if not dvc.is_file():
        return []
    stages = (read_yaml(dvc) or {}).get("stages") or {}
    paths = []
    for stage in stages.values() if isinstance(stages, dict) else []:
        for key in ("deps", "outs"):
            for entry in (stage or {}).get(key) or []:
                path = entry if isinstance(entry, str) else next(iter(entry), None)
                if isinstance(path, str) and "${" not in path:
                    paths.append(path)
    return paths


def _source_path(project: Project) -> list[str]:
    """params.yaml data.source, when it names a data file."""
    from samdkit.core.params import read_params, section

    source = section(read_params(project), "data").get("source")
    return [source] if isinstance(source, str) and is_data_file(Path(source)) else []


def pipeline_datasets(project: Project) -> list[Path]:
    """The data files the pipeline produces or consumes, as this module knows them.

    The train/test/golden path keys when present, every dvc.yaml stage dependency or output
    under ``data/`` (a file, or the data files of a folder), and ``data.source`` of params.yaml
    when it is a data file.
    """
    found = {project.path(key).resolve() for key in PIPELINE_KEYS if project.path(key).is_file()}
    for value in [*_dvc_paths(project), *_source_path(project)]:
        path = (project.root / value).resolve()
        if Path(project.shown(path)).parts[:1] != ("data",):
            continue
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and is_data_file(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif is_data_file(path):
            found.add(path)
    return sorted(found)


def coverage(project: Project, config: dict[str, Any]) -> dict[str, Any]:
    """Which pipeline datasets have a check, which are exempt, which have neither."""
    root = project.root
    datasets = pipeline_datasets(project)
    checked = {d.path if isinstance(d, Source) else d for d, _ in config["pairs"]}
    exempt = config["exempt"]
    return {
        "datasets": [shown_path(root, p) for p in datasets],
        "unchecked": [
            shown_path(root, p) for p in datasets if p not in checked and p not in exempt
        ],
        "exempt": {shown_path(root, p): reason for p, reason in sorted(exempt.items())},
    }
