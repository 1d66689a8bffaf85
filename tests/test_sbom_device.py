"""The SBOM describes the device: its subject is the project, its components the project's runtime closure
(its SOUP), the tools that produced the evidence are listed apart, and the model carries its card (issue 13,
part 5). Validated with cyclonedx-python-lib's strict CycloneDX 1.6 validator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from samdkit.report import sbom
from tests.conftest import project_env

NOT_SOUP = {"samdkit", "great-expectations", "dvc", "mlflow", "pytest", "weasyprint", "pyhanko"}
NOT_SOUP |= {"cyclonedx-python-lib", "cyclonedx-bom", "codecarbon", "ruff", "matplotlib"}


def canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def report(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samdkit", "report", "--no-pdf", *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def device_sbom(default_project, tmp_path_factory):
    """The default project's report outputs (in a copy), with its SBOM parsed."""
    import shutil

    project = tmp_path_factory.mktemp("sbom") / default_project.name
    shutil.copytree(default_project, project, symlinks=True)
    done = report(project)
    assert done.returncode == 0, done.stderr
    text = (project / "reports" / "sbom.cdx.json").read_text()
    return project, text, json.loads(text)


def test_subject_is_the_device(device_sbom):
    import tomllib

    project, _, data = device_sbom
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    subject = data["metadata"]["component"]
    assert (subject["name"], subject["version"]) == (meta["name"], meta["version"])
    assert subject["type"] == "application"
    assert data["specVersion"] == "1.6"


def test_components_are_the_runtime_closure_not_the_environment(device_sbom):
    from importlib import metadata

    _, _, data = device_sbom
    libraries = {canonical(c["name"]) for c in data["components"] if c["type"] == "library"}
    # the project's own dependencies and what they need at run time
    for name in ("numpy", "pandas", "scikit-learn", "skops", "pyyaml", "scipy", "joblib"):
        assert name in libraries, name
    # tools and everything else installed in this environment are not SOUP
    assert not libraries & NOT_SOUP
    environment = {canonical(d.metadata["Name"]) for d in metadata.distributions()}
    assert len(libraries) < len(environment) / 4
    # every dependency a listed library declares for plain use (no extra) is listed too: a closure
    from packaging.requirements import Requirement

    for comp in data["components"]:
        if comp["type"] != "library":
            continue
        for text in metadata.distribution(comp["name"]).requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                assert canonical(req.name) in libraries, (comp["name"], text)


def test_each_component_names_title_manufacturer_version(device_sbom):
    _, _, data = device_sbom
    for comp in data["components"]:
        if comp["type"] == "library":
            assert comp["name"] and comp["version"] and comp["purl"].startswith("pkg:pypi/")
            assert comp.get("supplier", {}).get("name"), comp["name"]


def test_tools_used_for_verification_are_listed_apart(device_sbom):
    _, _, data = device_sbom
    tools = {canonical(c["name"]) for c in data["metadata"]["tools"]["components"]}
    assert {"samdkit", "great-expectations", "dvc", "weasyprint"} <= tools
    libraries = {canonical(c["name"]) for c in data["components"]}
    assert not tools & libraries


def test_model_component_carries_its_model_card(device_sbom):
    project, _, data = device_sbom
    models = [c for c in data["components"] if c["type"] == "machine-learning-model"]
    assert len(models) == 1
    model = models[0]
    lock = json.loads((project / "model.lock").read_text())
    assert model["hashes"][0]["alg"] == "SHA-256"
    assert model["hashes"][0]["content"] in json.dumps(lock)
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    evaluation = json.loads((project / "reports" / "evaluation.json").read_text())
    overall = {m["type"]: m for m in metrics if m["slice"] == "overall"}
    for name in evaluation["headline_metrics"]:
        entry = evaluation["overall"]["metrics"][name]
        assert float(overall[name]["value"]) == pytest.approx(entry["value"], abs=1e-3)
        if entry.get("ci", {}).get("lower") is not None:
            bounds = overall[name]["confidenceInterval"]
            assert float(bounds["lowerBound"]) == pytest.approx(entry["ci"]["lower"], abs=1e-3)
            assert float(bounds["upperBound"]) == pytest.approx(entry["ci"]["upper"], abs=1e-3)
    slices = {m["slice"] for m in metrics}
    for group in evaluation["subgroups"]:
        assert f"{group['column']}={group['value']}" in slices


def test_sbom_is_valid_cyclonedx_1_6(device_sbom):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    _, text, _ = device_sbom
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    # and the validator does reject a broken model card (the check can fail)
    broken = json.loads(text)
    for comp in broken["components"]:
        if comp["type"] == "machine-learning-model":
            comp["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0]["value"] = 0.9
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(broken)) is not None
    assert sbom.validate(json.dumps(broken)) is not None


def test_report_soup_table_is_the_sbom(device_sbom):
    project, _, data = device_sbom
    md = (project / "reports" / "clinical-validation-report.md").read_text()
    section = md.split("## 12.", 1)[1].split("## 13.", 1)[0]
    table = section.split("SOUP of the device", 1)[1].split("Tools used for verification", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    names = {line.split("|")[1].strip().replace("\\", "") for line in rows[1:]}
    libraries = {c["name"] for c in data["components"] if c["type"] == "library"}
    assert names == libraries
    tools_line = section.split("Tools used for verification", 1)[1]
    assert "samdkit" in tools_line and "weasyprint" in tools_line


def test_closure_follows_markers_and_extras():
    never = sbom.runtime_closure(["numpy; python_version < '3'"])
    assert never.dists == {} and never.missing == []
    plain = sbom.runtime_closure(["jsonschema"])
    extra = sbom.runtime_closure(["jsonschema[format-nongpl]"])
    assert "jsonschema" in plain.dists
    added = set(extra.dists) - set(plain.dists)
    assert "rfc3987-syntax" in added or "rfc3339-validator" in added, added


def test_uninstalled_runtime_dependency_is_a_blocking_gap(project_copy):
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace('  "numpy>=1.26",', '  "numpy>=1.26",\n  "no-such-soup-xyz",')
    )
    done = report(project_copy, "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the gate-result envelope; the report's gaps under detail
    assert result["schema"] == "samdkit/gate-result/v1" and result["gate"] == "report"
    gaps = result["detail"]["gaps"]
    assert any(g["section"] == "12" and "no-such-soup-xyz" in g["message"] for g in gaps)
    assert result["verdict"] == "FAIL"


def test_project_without_pyproject_is_refused_before_any_sbom(project_copy):
    """No pyproject.toml, no device to describe: one line, exit 2, nothing written (not a gap)."""
    (project_copy / "pyproject.toml").unlink()
    (project_copy / "reports" / "sbom.cdx.json").unlink()
    done = report(project_copy, "--format", "json")
    assert done.returncode == 2, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "pyproject.toml" in done.stderr
    assert not (project_copy / "reports" / "sbom.cdx.json").exists()


def test_multiclass_model_card_names_the_task_and_each_class():
    """A three-class evaluation is not described as binary; each class's metrics are their own slice."""
    from samdkit.report.sbom import model_card

    def entry(value: float) -> dict:
        return {"value": value, "ci": {"lower": value - 0.1, "upper": value + 0.05}}

    evaluation = {
        "task": "multiclass",
        "headline_metrics": ["accuracy"],
        "class_metrics": ["sensitivity"],
        "overall": {
            "metrics": {"accuracy": entry(0.8)},
            "per_class": [
                {"class": "dead", "metrics": {"sensitivity": entry(0.7)}},
                {"class": "alive", "metrics": {"sensitivity": entry(0.9)}},
            ],
        },
    }
    card = model_card(evaluation)
    assert card["modelParameters"]["task"] == "multiclass classification"
    slices = {
        (m["type"], m["slice"]): m["value"]
        for m in card["quantitativeAnalysis"]["performanceMetrics"]
    }
    assert slices == {
        ("accuracy", "overall"): "0.8",
        ("sensitivity", "class=dead"): "0.7",
        ("sensitivity", "class=alive"): "0.9",
    }
    assert model_card({"overall": {}})["modelParameters"]["task"] == "binary classification"
