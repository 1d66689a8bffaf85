"""The evidence says only what is true of the project: template example texts are flagged (first page,
blocking gaps, `report --strict`), the document id comes from project metadata, times say what they are,
quantities carry units and significant figures, and the attributes statement comes from the data used."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from samdkit.report import units
from samdkit.report.sections import front, results
from tests import test_act_release
from tests.conftest import bake_project, fill_in_template_examples, git, project_env, run
from tests.test_ci_bundle import calls, step_failed

# the act release harness: a published project (example texts replaced) and throwaway signing secrets
ci_project = test_act_release.ci_project
signing_secrets = test_act_release.signing_secrets

MARKER = "TEMPLATE EXAMPLE"
# words of the template's example device (a breast-lesion classifier on the Wisconsin data set)
EXAMPLE_WORDS = re.compile(
    r"breast|lesion|fine-needle|\bFNA\b|Wisconsin|cytopath|malignan|nuclei|tertile", re.I
)


def pdftotext(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    return subprocess.run(
        ["pdftotext", *pages, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


# ----------------------------------------------------------------------------------------- fast


@pytest.mark.parametrize(
    ("kwh", "text"),
    [
        (3.2e-6, "3.2 mWh"),
        (1.54e-7, "150 µWh"),
        (0.0042, "4.2 Wh"),
        (1.4, "1.4 kWh"),
        (0.9996, "1 kWh"),
        (0.0009996, "1 Wh"),
        (0.0, "< 1 µWh"),
        (1e-13, "< 1 µWh"),
        (None, "n/a"),
    ],
)
def test_energy_has_a_unit_and_two_significant_figures(kwh, text):
    assert units.energy(kwh) == text


def test_co2_and_duration_have_units():
    assert units.mass_co2(3.2e-6) == "3.2 mg CO₂eq"
    assert units.mass_co2(1.4) == "1.4 kg CO₂eq"
    assert units.mass_co2(0) == "< 1 µg CO₂eq"
    assert units.duration(12.345) == "12 s"
    assert units.duration(0.0123) == "0.012 s"
    assert "0.000000" not in units.energy(2e-10) + units.mass_co2(2e-10)


def test_attributes_statement_comes_from_the_evaluated_subgroups():
    subgroups = [
        {"column": "sex", "value": "female"},
        {"column": "sex", "value": "male"},
        {"column": "age_band", "value": "65+"},
    ]
    text = results.attributes_statement({"subgroups": subgroups})
    assert "sex (2 groups)" in text and "age_band (1 group)" in text
    assert "No subgroup attribute" not in text
    assert "No subgroup attribute was analysed" in results.attributes_statement({"subgroups": []})


def test_marked_fields_are_found_by_path():
    data = {
        "a": {"b": "TEMPLATE EXAMPLE: x", "c": "own text"},
        "l": ["own", "  TEMPLATE EXAMPLE: y"],
    }
    assert front.marked_fields(data) == ["a.b", "l[1]"]


def test_every_example_text_of_the_template_is_marked(tmp_path):
    """Each text about the example device in the scaffold's compliance files carries the marker."""
    project = bake_project(tmp_path)
    unmarked = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("name", "column", "value", "values", "id", "subgroup"):
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str) and EXAMPLE_WORDS.search(node) and not node.startswith(MARKER):
            unmarked.append(f"{path}: {node}")

    for path in sorted((project / "compliance").glob("*.yaml")):
        walk(yaml.safe_load(path.read_text()), path.name)
    assert not unmarked
    # the ids are set by the template, from the project's slug, not by the folder a checkout lands in
    device = yaml.safe_load((project / "compliance/device.yaml").read_text())
    assert device["documents"]["validation_report"]["id"] == "CVR-BREAST-LESION-TRIAGE"
    assert device["documents"]["model_card"]["id"] == "MC-BREAST-LESION-TRIAGE"


# ----------------------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_default_evidence_says_it_holds_template_text_on_its_first_page(default_project):
    reports = default_project / "reports"
    for pdf in ("clinical-validation-report.pdf", "model-card.pdf"):
        first = pdftotext(reports / pdf, 1, 1)
        assert "TEMPLATE EXAMPLE TEXT" in first, pdf
    data = json.loads((reports / "clinical-validation-report.json").read_text())
    assert data["verdict"] == "FAIL"
    blocking = " ".join(g["message"] for g in data["gaps"] if g["blocking"])
    for field in (
        "intended_use.indication",
        "considerations.limitations[0]",
        "requirements[0].text",
        "risks[0].hazard",
    ):
        assert field in blocking, field
    assert set(data["template_examples"]) >= {
        "compliance/device.yaml",
        "compliance/model-card.yaml",
        "compliance/requirements.yaml",
        "compliance/risks.yaml",
    }
    # each field also on the first page of the model card, which has no verdict section of its own
    assert "intended_use.indication" in pdftotext(reports / "model-card.pdf", 1, 1)
    assert "TEMPLATE EXAMPLE TEXT" in (reports / "model-card.md").read_text()
    assert "TEMPLATE EXAMPLE TEXT" in (reports / "clinical-validation-report.md").read_text()


@pytest.mark.slow
def test_report_strict_refuses_template_text_in_one_line_and_writes_nothing(project_copy):
    before = digests(project_copy / "reports")
    done = run(["samdkit", "report", "--strict"], project_copy, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("samdkit report --strict: template example text still in")
    for field in ("compliance/device.yaml", "intended_use.indication", "risks[3].control"):
        assert field in lines[0]
    assert digests(project_copy / "reports") == before


@pytest.mark.slow
def test_report_strict_passes_once_the_texts_are_the_projects_own(project_copy):
    fill_in_template_examples(project_copy)
    done = run(["samdkit", "report", "--strict", "--no-pdf"], project_copy, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((project_copy / "reports/clinical-validation-report.json").read_text())
    assert data["template_examples"] == {} and data["verdict"] == "PASS", data["gaps"]


@pytest.mark.slow
def test_document_id_does_not_depend_on_the_checkout_folder(default_project, tmp_path):
    moved = shutil.copytree(default_project, tmp_path / "runner-work-1234", symlinks=True)
    run(["samdkit", "report", "--no-pdf"], moved)
    data = json.loads((moved / "reports/clinical-validation-report.json").read_text())
    assert data["document"]["id"] == "CVR-BREAST-LESION-TRIAGE"
    assert data["document"]["model_card_id"] == "MC-BREAST-LESION-TRIAGE"
    # without the ids in device.yaml: the project's name from pyproject.toml, still not the folder
    device = moved / "compliance/device.yaml"
    doc = yaml.safe_load(device.read_text())
    del doc["documents"]
    device.write_text(yaml.safe_dump(doc))
    run(["samdkit", "report", "--no-pdf"], moved)
    data = json.loads((moved / "reports/clinical-validation-report.json").read_text())
    assert data["document"]["id"] == "CVR-BREAST-LESION-TRIAGE"
    assert "RUNNER" not in json.dumps(data["document"])


@pytest.mark.slow
def test_times_say_what_they_are(default_project, tmp_path):
    data = json.loads((default_project / "reports/clinical-validation-report.json").read_text())
    commit = run(["git", "log", "-1", "--format=%ct", "HEAD~1"], default_project).stdout
    # the report ran before the pipeline's outputs were committed: it describes the scaffold commit
    expected = datetime.fromtimestamp(int(commit), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["document"]["source_commit_utc"] == expected
    assert data["document"]["time_basis"].startswith("SOURCE_DATE_EPOCH")
    text = pdftotext(default_project / "reports/clinical-validation-report.pdf", 1, 1)
    assert "Document time (UTC)" in text and "Source commit time (UTC)" in text
    assert "Generated (UTC)" not in text

    copy = shutil.copytree(default_project, tmp_path / "p", symlinks=True)
    env = {k: v for k, v in project_env(copy).items() if k != "SOURCE_DATE_EPOCH"}
    env.pop("SOURCE_DATE_EPOCH", None)
    assert "SOURCE_DATE_EPOCH" not in env  # the test command (scripts/lib.sh) exports one
    run(["samdkit", "report", "--no-pdf"], copy, env=env)
    data = json.loads((copy / "reports/clinical-validation-report.json").read_text())
    assert data["document"]["time_basis"].startswith("time of generation")


@pytest.mark.slow
def test_energy_is_printed_with_a_unit_never_as_zeros(default_project):
    text = pdftotext(default_project / "reports/clinical-validation-report.pdf")
    card = pdftotext(default_project / "reports/model-card.pdf")
    assert not re.search(r"0\.0{5,}", text + card)
    assert re.search(r"(< 1|\d+(\.\d)?) [µmk]?Wh, (< 1|\d+(\.\d)?) (µg|mg|g|kg|t) CO₂eq", text)
    assert re.search(r"[µmk]?Wh, .* CO₂eq for training", card)


@pytest.mark.slow
def test_attribute_statements_come_from_the_data_used(default_project):
    card = json.loads((default_project / "reports/model-card.json").read_text())
    assert card["fairness_attributes"].startswith(
        "Subgroup analysis of the test set by: size_tertile"
    )
    everything = "".join(
        p.read_text(errors="replace")
        for p in (default_project / "reports").iterdir()
        if p.suffix in (".md", ".json", ".html")
    )
    assert "No demographic attributes are available" not in everything
    assert "Subgroup analysis of the test set by: size_tertile" in pdftotext(
        default_project / "reports/model-card.pdf"
    )


@pytest.mark.slow
def test_the_release_workflow_stops_on_template_text(ci_project, signing_secrets, tmp_path):
    """release.yml runs `samdkit report --strict`: one field still marked stops it before signing."""
    project = test_act_release.copy_project(ci_project, tmp_path / "p")
    device = project / "compliance" / "device.yaml"
    text = device.read_text()
    device.write_text(text.replace('indication: "', 'indication: "TEMPLATE EXAMPLE: ', 1))
    run(["dvc", "commit", "-f", "-q"], project)  # dvc.lock re-recorded: only the report can tell
    git(project, "commit", "-qam", "an example text left in")
    code, log, record = test_act_release.release(project, tmp_path / "act", signing_secrets)
    assert code != 0
    assert step_failed(log, "Clinical validation report and model card"), log[-8000:]
    assert "template example text still in compliance/device.yaml: intended_use.indication" in log
    assert not (record / "calls.jsonl").exists() or not [
        c for c in calls(record) if c["name"] == "gh"
    ]
    assert not (tmp_path / "act" / "artifacts" / "release-evidence").exists()
