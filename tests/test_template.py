"""The cookiecutter template, tested as cookiecutter-data-science tests its own: bake every option
combination that changes files, assert the exact file set and that no template syntax is left over, then
run the generated project's own checks and pipeline."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO, TEMPLATE, project_env, run

CHOICES = json.loads((TEMPLATE / "cookiecutter.json").read_text())
PLATFORMS = CHOICES["ci_platform"]
PYTHONS = CHOICES["python_version"]
SAFETY = CHOICES["safety_class"]
LICENSES = CHOICES["license"]

COMMON_FILES = {
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".gitignore",
    ".pre-commit-config.yaml",
    "LICENSE",
    "Makefile",
    "README.md",
    "compliance/device.yaml",
    "compliance/expectations/golden.json",
    "compliance/expectations/test.json",
    "compliance/expectations/train.json",
    "compliance/model-card.yaml",
    "compliance/pccp.yaml",
    "compliance/regulatory.yaml",
    "compliance/requirements.yaml",
    "compliance/risks.yaml",
    "data/raw/.gitignore",
    "dvc.yaml",
    "notebooks/01-exploration.ipynb",
    "params.yaml",
    "pyproject.toml",
    "src/{pkg}/__init__.py",
    "src/{pkg}/config.py",
    "src/{pkg}/data.py",
    "src/{pkg}/evaluate.py",
    "src/{pkg}/example.py",
    "src/{pkg}/model.py",
    "src/{pkg}/train.py",
    "tests/conftest.py",
    "tests/test_data.py",
    "tests/test_model_behaviour.py",
}
PLATFORM_FILES = {
    "github": {
        ".github/workflows/pull-request.yml",
        ".github/workflows/release.yml",
        ".github/zizmor.yml",
    },
    "gitlab": {".gitlab-ci.yml"},
}
# cookiecutter's own syntax; GitHub's ${{ }} expressions are expected in workflows
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.")

COMBINATIONS = [
    {
        "ci_platform": platform,
        "python_version": python,
        "safety_class": safety,
        "license": LICENSES[i % len(LICENSES)],
        "project_name": f"Case {i}",
    }
    for i, (platform, python, safety) in enumerate(itertools.product(PLATFORMS, PYTHONS, SAFETY))
]


def files_of(project: Path) -> set[str]:
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }


def expected_files(context: dict[str, str], package: str) -> set[str]:
    files = {f.format(pkg=package) for f in COMMON_FILES}
    for platform, extra in PLATFORM_FILES.items():
        if context["ci_platform"] in (platform, "both"):
            files |= extra
    return files


@pytest.mark.parametrize("context", COMBINATIONS, ids=lambda c: "-".join(list(c.values())[:4]))
def test_bake_every_combination(bake, context):
    project = bake(**context)
    package = f"case_{context['project_name'].split()[1]}"
    assert project.name == package
    assert files_of(project) == expected_files(context, package)
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(encoding="utf-8")
            leftover = LEFTOVER.search(text)
            assert leftover is None, (
                f"{path.name}: template syntax left: {text[leftover.start() :][:60]!r}"
            )
    pyproject = (project / "pyproject.toml").read_text()
    assert f'requires-python = ">={context["python_version"]}"' in pyproject
    assert f"IEC 62304 class {context['safety_class']}" in pyproject
    device = yaml.safe_load((project / "compliance/device.yaml").read_text())
    assert device["device"]["iec62304_safety_class"] == context["safety_class"]
    assert (project / ".git").is_dir(), "post-gen hook starts the git repository DVC needs"


def test_yaml_and_workflows_parse(bake):
    project = bake(ci_platform="both")
    for path in [
        *project.glob("*.yaml"),
        *project.glob("compliance/*.yaml"),
        project / ".gitlab-ci.yml",
    ]:
        assert yaml.safe_load(path.read_text()) is not None, path
    workflow = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())
    assert workflow["permissions"] in ({}, {"contents": "read"}), "least privilege by default"
    uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert "OWNER/samdkit/actions/setup@v1" in uses
    include = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["include"][0]
    assert (include["project"], include["ref"]) == ("OWNER/samdkit", "v1")


def test_samdkit_source_is_pinned_where_chosen(bake):
    project = bake(
        ci_platform="both", samdkit_source="acme/samdkit-fork@v2.3.1", project_name="Pin"
    )
    workflow = (project / ".github/workflows/pull-request.yml").read_text()
    assert "acme/samdkit-fork/actions/setup@v2.3.1" in workflow
    assert 'ref: "v2.3.1"' in (project / ".gitlab-ci.yml").read_text()


def test_cookiecutter_checkout_and_samdkit_new_agree(tmp_path):
    """`cookiecutter . --no-input` (nested templates form) and `samdkit new --no-input` give one project."""
    from cookiecutter.main import cookiecutter

    via_cookiecutter = Path(cookiecutter(str(REPO), no_input=True, output_dir=str(tmp_path / "a")))
    result = subprocess.run(
        [BIN / "samdkit", "new", "--no-input", "-o", str(tmp_path / "b")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    via_samdkit = Path(result.stdout.strip())
    assert via_cookiecutter.name == via_samdkit.name
    files = files_of(via_cookiecutter)
    assert files == files_of(via_samdkit)
    for name in files:
        assert (via_cookiecutter / name).read_bytes() == (via_samdkit / name).read_bytes(), name


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("project_slug=9lives", "project_slug '9lives' is not a valid Python identifier"),
        ("project_slug=class", "not a valid Python identifier"),
        ("intended_use=   ", "intended_use must not be empty"),
        ("contact=nobody", "is not an email address"),
        ("samdkit_source=samdkit", "must look like OWNER/REPO@REF"),
    ],
)
def test_pre_gen_hook_rejects_bad_variables(tmp_path, setting, message):
    result = subprocess.run(
        [BIN / "samdkit", "new", "--no-input", "--set", setting, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing generated"


def test_non_ascii_project_name_becomes_an_ascii_package(tmp_path):
    """Accents and other scripts are transliterated: the package builds and installs everywhere."""
    result = subprocess.run(
        [
            BIN / "samdkit",
            "new",
            "--no-input",
            "--set",
            "project_name=Triage Pédiatrique Ünï 北京",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    project = Path(result.stdout.strip())
    assert project.name == "triage_pediatrique_uni_bei_jing"
    assert (project / "src/triage_pediatrique_uni_bei_jing/__init__.py").is_file()
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "triage-pediatrique-uni-bei-jing"' in pyproject
    assert "Triage Pédiatrique" in pyproject, "the display name keeps its accents"
    # the first-run message says exactly what to run, on stderr (stdout is the project path)
    assert "git add -A && git commit -m 'scaffold from samdkit'" in result.stderr
    assert "dvc repro" in result.stderr


def test_non_ascii_slug_is_refused_before_anything_is_written(tmp_path):
    result = subprocess.run(
        [
            BIN / "samdkit",
            "new",
            "--no-input",
            "--set",
            "project_slug=triage_pédiatrique",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "project_slug 'triage_pédiatrique' is not ASCII" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_readme_asks_for_suites_only_after_the_data_exists(bake):
    """check-data --init drafts from the prepared data: the README's steps put it after prepare."""
    readme = (bake(project_name="Order") / "README.md").read_text()
    own = readme.split("## Use your own data", 1)[1].split("\n## ", 1)[0]
    steps = [s for s in ("dvc add data/raw/", "dvc repro prepare", "check-data --init") if s in own]
    assert steps == ["dvc add data/raw/", "dvc repro prepare", "check-data --init"]
    assert (
        own.index("dvc add data/raw/")
        < own.index("dvc repro prepare")
        < own.index("check-data --init")
    )


SKOPS_TRUST = """
import operator, sys
import numpy as np, pandas as pd, skops.io
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from {pkg}.config import ConfigError
from {pkg}.model import build_pipeline, skops_trusted_types

frame = pd.DataFrame({{"age": [61.0, np.nan, 70, 55, 48, 66] * 4, "sex": ["f", "m", None, "m", "f", "m"] * 4}})
y = np.array(["dead", "alive", "dead"] * 8)
data = {{"numeric_features": ["age"], "categorical_features": ["sex"]}}
train = {{"C": 1.0, "max_iter": 200, "seed": 0}}
for final in (None, RandomForestClassifier(n_estimators=3, random_state=0), HistGradientBoostingClassifier()):
    pipeline = build_pipeline(train, data)
    if final is not None:
        pipeline.steps[-1] = ("final", final)
    pipeline.fit(frame, y)
    skops.io.dump(pipeline, "model.skops")
    loaded = skops.io.load("model.skops", trusted=skops_trusted_types(pipeline))
    assert (loaded.predict_proba(frame) == pipeline.predict_proba(frame)).all()
    print("loaded", type(loaded.steps[-1][1]).__name__)
odd = make_pipeline(FunctionTransformer(operator.neg), build_pipeline(train, {{**data, "categorical_features": []}}))
try:
    skops_trusted_types(odd.fit(frame[["age"]].fillna(60), y))
except ConfigError as exc:
    print("refused", exc)
"""


def test_skops_trust_is_derived_from_the_pipeline(bake, tmp_path):
    """Any estimator or encoder the template's pipeline uses saves and loads with no list edited by
    hand; a function skops would run that no pipeline type accounts for is refused, named."""
    project = bake(project_name="Trust")
    script = tmp_path / "derive_skops_trust.py"
    script.write_text(SKOPS_TRUST.format(pkg=project.name))
    result = run([sys.executable, str(script)], tmp_path, env={**project_env(project)})
    loaded = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("loaded")]
    assert loaded == [
        "LogisticRegression",
        "RandomForestClassifier",
        "HistGradientBoostingClassifier",
    ]
    assert (
        "refused skops: the model holds types the pipeline does not use: ['_operator.neg']"
        in result.stdout
    )


def test_unknown_choice_is_one_line(tmp_path):
    result = subprocess.run(
        [BIN / "samdkit", "new", "--no-input", "--set", "ci_platform=jenkins", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "ci_platform" in result.stderr


def test_generated_project_is_ruff_clean_and_its_tests_pass(bake):
    project = bake(project_name="Lint Me", ci_platform="both")
    run([str(BIN / "ruff"), "check", "."], project)
    run([str(BIN / "ruff"), "format", "--check", "."], project)
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.slow
def test_pipeline_runs_offline_end_to_end(default_project):
    project = default_project
    for name in ("train.csv", "test.csv", "golden.csv"):
        assert (project / "data/prepared" / name).stat().st_size > 0
    assert (project / "models/model/MLmodel").is_file()
    assert (project / "models/model/model.skops").is_file(), "skops, not pickle"
    assert not list((project / "models/model").glob("*.pkl"))
    status = run(["dvc", "status", "-q"], project, check=False)
    assert status.returncode == 0, "dvc.lock is up to date after repro"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert {"prepare", "train", "evaluate"} <= set(lock["stages"])
    run_record = json.loads((project / "reports/train_run.json").read_text())
    with sqlite3.connect(project / "mlflow.db") as db:
        versions = db.execute(
            "select name, version, run_id from model_versions where name = ?",
            (run_record["model_name"],),
        ).fetchall()
        alias = db.execute("select alias, version from registered_model_aliases").fetchall()
    assert (run_record["model_name"], 1, run_record["run_id"]) in versions
    assert ("candidate", 1) in alias
    emissions = (project / "reports/emissions.csv").read_text().splitlines()
    header = emissions[0].split(",")
    assert "energy_consumed" in header and "emissions" in header and len(emissions) >= 2
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert (
        metrics["n_test"] == len((project / "data/prepared/test.csv").read_text().splitlines()) - 1
    )
    assert 0.9 < metrics["auroc"] <= 1.0


@pytest.mark.slow
def test_pipeline_stage_errors_are_one_line(project_copy):
    params = project_copy / "params.yaml"
    original = params.read_text()
    broken = yaml.safe_load(original)
    del broken["data"]["seed"]
    params.write_text(yaml.safe_dump(broken))
    result = run([sys.executable, "-m", f"{project_copy.name}.data"], project_copy, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: missing key 'data.seed'"
    params.write_text(original.replace("sklearn:breast_cancer", "data/raw/absent.csv"))
    result = run([sys.executable, "-m", f"{project_copy.name}.data"], project_copy, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("data/raw/absent.csv: file not found")
    (project_copy / "data/raw").mkdir(parents=True, exist_ok=True)
    (project_copy / "data/raw/absent.csv").write_bytes(b"\x00\xff\x00 not,a\ncsv")
    result = run([sys.executable, "-m", f"{project_copy.name}.data"], project_copy, check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_samdkit_copies_of_data_settings_are_derived_and_checked(bake):
    """params.yaml is the one place: pyproject.toml's copies are written by --sync, and a
    disagreement stops the check-data stage (never a data check silently left out)."""
    import tomllib

    project = bake(project_name="One Place")
    module = [sys.executable, "-m", f"{project.name}.config"]
    assert run(module, project).returncode == 0
    params = project / "params.yaml"
    params.write_text(
        params.read_text()
        .replace("id_column: sample_id", "id_column: patient_id")
        .replace("source: sklearn:breast_cancer", "source: data/raw/cohort.csv")
    )
    result = run(module, project, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: pyproject.toml [tool.samdkit.data] id_column is 'sample_id', params.yaml says "
        f"'patient_id' (run: python -m {project.name}.config --sync)"
    )
    assert run([*module, "--sync"], project).returncode == 0
    section = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["samdkit"]["data"]
    assert section["id_column"] == "patient_id"
    assert section["parameters"]["train_ids"] == {"dataset": "train_data", "column": "patient_id"}
    assert list(section["exempt"]) == ["data/raw/cohort.csv"]
    assert run(module, project).stdout.strip() == "config: params.yaml and pyproject.toml agree"


@pytest.mark.parametrize(
    ("module", "old", "new", "failing"),
    [
        (  # a model that ignores its inputs
            "model.py",
            "    return make_pipeline(\n        columns,\n",
            "    from sklearn.dummy import DummyClassifier\n\n"
            "    return make_pipeline(columns, DummyClassifier())\n    return make_pipeline(\n        columns,\n",
            {"test_learns_more_than_the_class_shares", "test_discriminates_on_held_out_data"},
        ),
        (  # a split that leaks the test cases into training
            "data.py",
            '    return {"train": train, "test": test,',
            '    train = frame\n    return {"train": train, "test": test,',
            {"test_train_and_test_share_no_sample", "test_split_is_stratified_and_complete"},
        ),
    ],
    ids=["model", "split"],
)
def test_project_tests_fail_on_a_broken_model_or_split(bake, module, old, new, failing):
    """The generated project's generic tests read names from the settings, yet still catch a break."""
    project = bake(project_name=f"Broken {module[:-3]}")
    path = project / "src" / project.name / module
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, check=False
    )
    assert result.returncode == 1
    failed = set(re.findall(r"FAILED tests/\w+\.py::(\w+)", result.stdout))
    assert failing <= failed, result.stdout[-2000:]


@pytest.mark.slow
def test_library_errors_in_stages_are_one_line(project_copy):
    """scikit-learn and MLflow failures name the library and the error type, in one line, exit 3."""
    params = project_copy / "params.yaml"
    params.write_text(params.read_text().replace("  C: 1.0", "  C: -1.0"))
    result = run([sys.executable, "-m", f"{project_copy.name}.train"], project_copy, check=False)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "error: scikit-learn refused the data or a setting with InvalidParameterError; its message "
        "is withheld because it may quote patient data (set SHOW_DATA_ERRORS=1 on your own "
        "terminal to see it)"
    ]
    test_csv = project_copy / "data/prepared/test.csv"
    lines = test_csv.read_text().splitlines()
    column = lines[0].split(",").index("mean_radius")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = "not a number"
    test_csv.unlink()  # DVC may have linked it from its cache
    test_csv.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    result = run([sys.executable, "-m", f"{project_copy.name}.evaluate"], project_copy, check=False)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: MLflow refused the model or its input"), result.stderr
    assert "not a number" not in result.stderr


def test_project_env_puts_this_venv_first(tmp_path):
    assert project_env(tmp_path)["PATH"].startswith(str(BIN))
