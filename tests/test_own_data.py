"""A team's own clinical table, end to end, by the generated README's "Use your own data" steps.

The data is real: the NCCTG lung-cancer cohort that lifelines ships (missing values, a categorical
performance score and institution, sex and age for subgroups), its outcome derived from follow-up as text
("dead"/"alive" at one year; or three classes by time of death). The steps are parsed from the README of
the scaffolded project, so the path the test follows is the one a user reads, step for step: a command
is run as written (only the file path and the pinned signer are filled in), a setting is set in the file
and at the key the step names, with this data's values. A step the test does not know fails it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import bake_project, commit_all, project_env

pytestmark = pytest.mark.slow

IDENTITY = {
    "GIT_AUTHOR_NAME": "samdkit tests",
    "GIT_AUTHOR_EMAIL": "tests@samdkit.invalid",
    "GIT_COMMITTER_NAME": "samdkit tests",
    "GIT_COMMITTER_EMAIL": "tests@samdkit.invalid",
}
# the breast-cancer example's own words: none may be left in a project on other data, unless on a
# "TEMPLATE EXAMPLE:" line (a field the team left, which the report lists as a blocking gap)
EXAMPLE_WORDS = re.compile(
    r"\b(breast|lesions?|malignan\w*|benign|wisconsin|size_tertile|mean_radius|worst_\w+|"
    r"FNA|cytopatholog\w*|sklearn:breast_cancer)\b",
    re.IGNORECASE,
)
THREE_CLASSES = ["dead_6m", "dead_12m", "alive_12m"]


def cohort(outcome: str) -> Any:
    """lifelines' lung cohort as a team's export: ids, text categories, gaps, outcome as text."""
    import numpy as np
    from lifelines.datasets import load_lung

    raw = load_lung()
    known = (raw["time"] > 365) | (raw["status"] == 1)  # censored before a year: outcome unknown
    raw = raw[known].reset_index(drop=True)
    dead_by = np.where(raw["time"] <= 182, "dead_6m", "dead_12m")
    frame = raw.assign(
        patient_id=[f"NCCTG-{i + 1:04d}" for i in range(len(raw))],
        institution=raw["inst"].map(lambda v: f"site {int(v)}", na_action="ignore"),
        sex=raw["sex"].map({1: "male", 2: "female"}),
        age_band=np.select(
            [raw["age"] < 60, raw["age"] < 70], ["under 60", "60 to 69"], default="70 and over"
        ),
        ecog=raw["ph.ecog"].map(lambda v: f"ECOG {int(v)}", na_action="ignore"),
        outcome=(
            np.where(raw["time"] > 365, "alive", "dead")
            if outcome == "binary"
            else np.where(raw["time"] > 365, "alive_12m", dead_by)
        ),
    ).rename(
        columns={
            "time": "follow_up_days",
            "ph.karno": "karnofsky_physician",
            "pat.karno": "karnofsky_patient",
            "meal.cal": "meal_calories",
            "wt.loss": "weight_loss",
        }
    )
    return frame.drop(columns=["inst", "ph.ecog"])


def settings(outcome: str) -> dict[tuple[str, str], Any]:
    """This data's value for every setting the README may name (file, dotted key)."""
    binary = outcome == "binary"
    need = "Clinicians must know which patients are unlikely to survive a year, to plan care."
    if binary:
        criteria = [
            {
                "id": "REQ-PERF-001",
                "need": "NEED-001",
                "text": "AUROC of one-year death, upper 95 % CI bound at least 0.5.",
                "metric": "auroc",
                "statistic": "ci_upper",
                "comparator": ">=",
                "threshold": 0.5,
                "risks": ["RISK-001"],
            }
        ]
    else:
        criteria = [
            {
                "id": "REQ-PERF-001",
                "need": "NEED-001",
                "text": "One-vs-rest AUROC of death within six months, upper 95 % CI bound at least 0.5.",
                "metric": "auroc",
                "class": "dead_6m",
                "statistic": "ci_upper",
                "comparator": ">=",
                "threshold": 0.5,
                "risks": ["RISK-001"],
            }
        ]
    return {
        ("params.yaml", "data.source"): "data/raw/cohort.csv",
        ("params.yaml", "data.id_column"): "patient_id",
        ("params.yaml", "data.label_column"): "outcome",
        ("params.yaml", "data.positive_label"): "dead" if binary else None,
        ("params.yaml", "data.classes"): None if binary else THREE_CLASSES,
        ("params.yaml", "data.numeric_features"): [
            "age",
            "karnofsky_physician",
            "karnofsky_patient",
            "meal_calories",
            "weight_loss",
        ],
        ("params.yaml", "data.categorical_features"): ["sex", "ecog", "institution"],
        ("params.yaml", "data.subgroup_columns"): ["sex", "age_band"],
        ("params.yaml", "data.exclude_columns"): ["follow_up_days", "status"],
        ("compliance/requirements.yaml", "subgroups"): [
            {"column": "sex", "values": ["female", "male"], "min_n": 10},
            {"column": "age_band", "values": ["under 60", "60 to 69", "70 and over"], "min_n": 10},
        ],
        ("compliance/requirements.yaml", "user_needs"): [{"id": "NEED-001", "text": need}],
        ("compliance/requirements.yaml", "requirements"): criteria,
        ("compliance/risks.yaml", "risks"): [
            {
                "id": "RISK-001",
                "hazard": "A patient likely to die within a year is ranked low and care is not planned.",
                "severity": "serious",
                "control": "Discrimination criterion with its CI; the oncologist reviews every plan.",
            }
        ],
        ("compliance/device.yaml", "intended_use"): {
            "statement": "Estimates one-year survival of adults with advanced lung cancer, to plan care.",
            "indication": "Adults with advanced non-small-cell lung cancer at an oncology visit.",
            "population": "Adults treated in the NCCTG institutions, 1980s.",
            "users": "Oncologists.",
            "setting": "Outpatient oncology clinic.",
            "human_oversight": "The oncologist decides; the estimate only informs the discussion.",
            "out_of_scope": ["Any decision to withhold treatment.", "Children."],
        },
        ("compliance/model-card.yaml", "model_details.architecture"): (
            "Logistic regression (scikit-learn) after imputation, scaling and one-hot encoding."
        ),
        ("compliance/model-card.yaml", "model_details.change_log"): ["0.1.0: first release."],
        ("compliance/model-card.yaml", "model_parameters"): {
            "inputs": "Age, sex, ECOG and Karnofsky scores, calories, weight loss, institution.",
            "outputs": "Probability of each outcome at one year.",
            "preprocessing": "Median or most-frequent imputation, scaling, one-hot encoding.",
        },
        ("compliance/model-card.yaml", "considerations"): {
            "limitations": ["One historical cohort of 186 patients with known one-year outcome."],
            "trade_offs": ["Small test split: wide confidence intervals."],
            "ethics": ["Survival estimates can discourage care; they never replace a decision."],
        },
        ("compliance/model-card.yaml", "lifecycle"): {
            "monitoring": "Yearly review against observed survival.",
            "change_control": "A retrained model needs a reviewed pull request and a new model.lock.",
        },
        ("compliance/model-card.yaml", "transparency"): {
            "funding_source": "The test suite of samdkit (no funding).",
            "stakeholders_consulted": ["Nobody: a test of the documented path."],
        },
        ("compliance/pccp.yaml", "planned_modifications"): [
            {
                "id": "MOD-001",
                "description": "Retrain on newer patients of the same clinics.",
                "rationale": "More cases narrow the confidence intervals.",
            }
        ],
        ("compliance/pccp.yaml", "modification_protocol"): {
            "data": "New data pass the data suites; the test split stays sequestered.",
            "retraining": "Same pipeline (dvc repro), same features and preprocessing.",
            "performance_evaluation": {
                "method": "samdkit evaluate on the sequestered test split.",
                "acceptance_criteria": [
                    {
                        "id": "PCCP-AC-001",
                        "text": "A retrained model keeps the criterion REQ-PERF-001.",
                        **{
                            k: criteria[0][k]
                            for k in criteria[0]
                            if k not in ("id", "text", "need", "risks")
                        },
                    }
                ],
            },
            "update_procedure": "A reviewed pull request updates model.lock; the release signs it.",
        },
        (
            "compliance/pccp.yaml",
            "impact_assessment",
        ): "Tighter estimates; drift controlled by the criteria.",
    }


@dataclass
class Step:
    number: int
    text: str
    commands: list[str]
    setting: tuple[str, str] | None


def readme_steps(project: Path) -> list[Step]:
    """The numbered steps of the README's own-data section: each one command block or one setting."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use your own data", 1)[1].split("\n## ", 1)[0]
    steps = []
    for match in re.finditer(r"(?ms)^(\d+)\. (.*?)(?=^\d+\. |\Z)", section):
        text = match.group(2)
        blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
        commands = [line.strip() for b in blocks for line in b.splitlines() if line.strip()]
        named = re.match(r"In `([^`]+)`, set `([^`]+)`", text)
        steps.append(
            Step(
                int(match.group(1)),
                text,
                commands,
                (named.group(1), named.group(2)) if named else None,
            )
        )
        assert bool(commands) != bool(named), (
            f"step {match.group(1)} is not one command or one setting"
        )
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    return steps


def set_key(path: Path, dotted: str, value: Any) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    node = doc
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    assert last in node, f"{path.name}: the README names {dotted}, which the file does not have"
    node[last] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def follow_readme(project: Path, csv: Path, outcome: str, until: str | None = None) -> dict:
    """Run the README's steps in order; returns each command's result by its text."""
    env = {**project_env(project), **IDENTITY}
    values = settings(outcome)
    steps = readme_steps(project)
    named = {s.setting for s in steps if s.setting}
    assert named == set(values), f"README settings and this test's differ: {named ^ set(values)}"
    results: dict[str, subprocess.CompletedProcess] = {}
    for step in steps:
        if step.setting:
            set_key(project / step.setting[0], step.setting[1], values[step.setting])
            continue
        for command in step.commands:
            if until and command == until:
                return results
            line = command.replace("/path/to/cohort.csv", str(csv))
            if "CERTIFICATE_SHA256" in line:
                signed = results["samdkit sign --demo"].stdout
                line = line.replace(
                    "CERTIFICATE_SHA256", re.search(r"certificate sha256 ([0-9a-f]{64})", signed)[1]
                )
            result = subprocess.run(
                ["bash", "-c", line], cwd=project, env=env, text=True, capture_output=True
            )
            results[command] = result
            allowed = (0, 1) if command == "samdkit report --strict" else (0,)
            assert result.returncode in allowed, (
                f"step {step.number}: {line} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
    return results


def scaffold(root: Path, outcome: str) -> tuple[Path, Path]:
    project = bake_project(
        root,
        project_name="Lung Survival Estimate",
        intended_use="Estimates one-year survival of adults with advanced lung cancer, to plan care.",
    )
    commit_all(
        project, "scaffold from samdkit"
    )  # the README's quick start, before its own-data steps
    csv = root / "export" / "cohort.csv"
    csv.parent.mkdir()
    cohort(outcome).to_csv(csv, index=False)
    return project, csv


def leftovers(project: Path) -> list[str]:
    """Lines of the project's text files that still carry the breast-cancer example's words."""
    skip = {".git", ".dvc", "mlruns", "mlartifacts", "models", "__pycache__", ".pytest_cache"}
    found = []
    for path in project.rglob("*"):
        if not path.is_file() or skip & set(path.relative_to(project).parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for line in text.splitlines():
            if EXAMPLE_WORDS.search(line) and "TEMPLATE EXAMPLE" not in line:
                found.append(f"{path.relative_to(project)}: {line.strip()[:120]}")
    return found


def test_binary_text_outcome_by_the_readme(tmp_path):
    project, csv = scaffold(tmp_path, "binary")
    results = follow_readme(project, csv, "binary")

    prepared = (project / "data/prepared/train.csv").read_text()
    assert "follow_up_days" not in prepared.splitlines()[0], "excluded columns are dropped"
    predictions = (project / "reports/predictions.csv").read_text().splitlines()
    assert predictions[0] == "row,label,score,predicted,sex,age_band"
    assert {line.split(",")[1] for line in predictions[1:]} == {"dead", "alive"}
    evaluation = yaml.safe_load((project / "reports/evaluation.json").read_text())
    assert evaluation["verdict"] == "PASS", evaluation["criteria"]
    assert {g["column"] for g in evaluation["subgroups"]} == {"sex", "age_band"}
    # the fields the test left (regulatory.yaml) are example text the report names; nothing else
    strict = results["samdkit report --strict"]
    assert strict.returncode == 1 and "compliance/regulatory.yaml" in strict.stderr
    for other in ("device.yaml", "requirements.yaml", "risks.yaml", "model-card.yaml", "pccp.yaml"):
        assert f"compliance/{other}" not in strict.stderr, strict.stderr
    verify = results[next(c for c in results if c.startswith("samdkit verify"))]
    assert "PASS" in verify.stdout, verify.stdout
    assert leftovers(project) == []
    lock = (project / "dvc.lock").read_text()
    assert "data/raw" in lock.split("check-data:")[0], "prepare records the raw data's version"


def test_three_class_outcome_by_the_readme(tmp_path):
    """The same steps with three outcomes, through evaluate, report, sign and verify."""
    project, csv = scaffold(tmp_path, "three")
    results = follow_readme(project, csv, "three")
    predictions = (project / "reports/predictions.csv").read_text().splitlines()
    header = predictions[0].split(",")
    assert header == [
        "row",
        "label",
        *[f"score_{c}" for c in THREE_CLASSES],
        "predicted",
        "sex",
        "age_band",
    ]
    for line in predictions[1:]:
        cells = line.split(",")
        assert abs(sum(float(c) for c in cells[2:5]) - 1) < 1e-9
        assert cells[5] in THREE_CLASSES and cells[1] in THREE_CLASSES
    run_record = yaml.safe_load((project / "reports/train_run.json").read_text())
    assert sorted(run_record["classes"]) == sorted(THREE_CLASSES)
    metrics = yaml.safe_load((project / "reports/metrics.json").read_text())
    assert 0.5 < metrics["auroc_macro"] <= 1
    evaluation = yaml.safe_load((project / "reports/evaluation.json").read_text())
    assert evaluation["task"] == "multiclass"
    assert sorted(evaluation["classes"]) == sorted(THREE_CLASSES)
    assert [c["class"] for c in evaluation["criteria"]] == ["dead_6m"]
    assert evaluation["verdict"] == "PASS", evaluation["criteria"]
    card = (project / "reports/model-card.md").read_text()
    assert "dead_6m" in card
    verify = results[next(c for c in results if c.startswith("samdkit verify"))]
    assert "PASS" in verify.stdout, verify.stdout
    assert leftovers(project) == []
