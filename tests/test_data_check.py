"""`samdkit check-data` with real Great Expectations on real files (the template's suites).

Validations run in-process through the CLI entry point, so the GX import (seconds) is paid once;
bad input runs in a subprocess, where it must fail before GX is even imported.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from samdkit.cli import main
from tests.conftest import samdkit_cli as samdkit
from tests.factories import write_split

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO / "template" / "{{cookiecutter.project_slug}}" / "compliance" / "expectations"
DATA = REPO / "tests" / "data" / "data_check"


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_split(tmp_path_factory.mktemp("split"))


@pytest.fixture
def project(tmp_path: Path, split: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root laid out like the generated project, with the template's suites."""
    prepared = tmp_path / "data" / "prepared"
    prepared.mkdir(parents=True)
    for path in split.values():
        shutil.copy(path, prepared / path.name)
    shutil.copytree(SUITES, tmp_path / "compliance" / "expectations")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_data_passes_with_no_arguments(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-data"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("samdkit check-data: PASS")
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["success"] is True
    assert report["passed"] == report["total"] > 200
    train, test, golden = report["validations"]  # every dataset of the pipeline has a suite
    assert train["dataset"]["path"] == "data/prepared/train.csv"
    assert train["dataset"]["rows"] == 398 and test["dataset"]["rows"] == 171
    assert golden["dataset"]["rows"] == 50 and golden["suite"]["name"] == "breast_cancer_golden"
    assert report["coverage"]["unchecked"] == []
    digest = hashlib.sha256((project / "data/prepared/test.csv").read_bytes()).hexdigest()
    assert test["dataset"]["sha256"] == digest
    suite_digest = hashlib.sha256((SUITES / "test.json").read_bytes()).hexdigest()
    assert test["suite"] == {
        "name": "breast_cancer_test",
        "path": "compliance/expectations/test.json",
        "sha256": suite_digest,
    }
    assert test["parameters"]["train_ids"] == {
        "dataset": "data/prepared/train.csv",
        "column": "sample_id",
        "values": 398,
    }
    overlap = [
        e for e in test["expectations"] if e["type"] == "expect_column_values_to_not_be_in_set"
    ]
    assert overlap[0]["kwargs"]["value_set"] == {
        "$PARAMETER": "train_ids"
    }  # as written, unresolved
    assert overlap[0]["success"] and overlap[0]["unexpected_count"] == 0
    kinds = {e["type"] for e in train["expectations"]}
    assert {
        "expect_table_columns_to_match_ordered_list",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_unique",
        "expect_table_row_count_to_be_between",
    } <= kinds


def test_bad_data_fails_naming_each_expectation(
    project: Path, split: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    prepared = project / "data" / "prepared"
    train = pd.read_csv(split["train"])
    bad = pd.read_csv(split["test"])
    bad.loc[0, "mean_texture"] = None  # null in a required column
    bad.loc[1, "mean_radius"] = 999.0  # out of range
    bad.loc[2, "label"] = 7  # unknown label
    bad.loc[4, "sample_id"] = bad.loc[3, "sample_id"]  # duplicated id
    bad.loc[5, "sample_id"] = train.loc[0, "sample_id"]  # a training sample in the test split
    bad.to_csv(prepared / "test.csv", index=False)
    train.head(20).to_csv(prepared / "few.csv", index=False)  # too few rows
    train.drop(columns=["worst_area"]).to_parquet(prepared / "dropped.parquet")  # a dropped column
    (project / "pyproject.toml").write_text(
        "[[tool.samdkit.data.checks]]\n"
        'dataset = "test_data"\nsuite = "test.json"\n'
        "[[tool.samdkit.data.checks]]\n"
        'dataset = "data/prepared/few.csv"\nsuite = "train.json"\n'
        "[[tool.samdkit.data.checks]]\n"
        'dataset = "data/prepared/dropped.parquet"\nsuite = "train.json"\n',
        encoding="utf-8",
    )
    assert main(["check-data", "--format", "github"]) == 1
    out = capsys.readouterr().out
    report = json.loads((project / "reports" / "data-check.json").read_text(encoding="utf-8"))
    assert report["success"] is False
    failed = {
        v["dataset"]["path"]: {
            (e["type"], e["column"]) for e in v["expectations"] if not e["success"]
        }
        for v in report["validations"]
    }
    assert failed["data/prepared/test.csv"] == {
        ("expect_column_values_to_not_be_null", "mean_texture"),
        ("expect_column_values_to_be_between", "mean_radius"),
        ("expect_column_values_to_be_in_set", "label"),
        ("expect_column_values_to_be_unique", "sample_id"),
        ("expect_column_values_to_not_be_in_set", "sample_id"),
    }
    assert failed["data/prepared/few.csv"] == {("expect_table_row_count_to_be_between", None)}
    dropped = failed["data/prepared/dropped.parquet"]
    assert ("expect_table_columns_to_match_ordered_list", None) in dropped
    assert all(column in (None, "worst_area") for _, column in dropped)
    results = {(e["type"], e["column"]): e for e in report["validations"][0]["expectations"]}
    # aggregates only (issue 13): counts next to what was expected, never the values
    radius = results[("expect_column_values_to_be_between", "mean_radius")]
    assert "partial_unexpected_list" not in radius and radius["unexpected_count"] == 1
    assert radius["reason"].startswith("observed 1 of 171 values unexpected (0.6%); expected")
    assert results[("expect_column_values_to_be_in_set", "label")]["unexpected_count"] == 1
    overlap = results[("expect_column_values_to_not_be_in_set", "sample_id")]
    assert overlap["unexpected_count"] == 1
    assert results[("expect_column_values_to_not_be_null", "mean_texture")]["unexpected_count"] == 1
    few = report["validations"][1]["expectations"]
    assert [e["observed_value"] for e in few if not e["success"]] == [20]
    # github annotations name the file and the expectation
    assert "::error file=data/prepared/test.csv,title=expect_column_values_to_be_unique::" in out
    assert "::error file=data/prepared/few.csv,title=expect_table_row_count_to_be_between::" in out
    assert out.strip().splitlines()[-1].startswith("samdkit check-data: FAIL")


def test_suites_validated_in_forked_workers_equal_the_ones_validated_in_order(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check-data validates one suite per core; the result must not depend on it."""
    from samdkit.core import parallel

    (project / "data" / "prepared" / "test.csv").write_text(
        (project / "data" / "prepared" / "test.csv").read_text().replace(",0\n", ",5\n", 3)
    )  # a few unknown labels: failures must come back from the workers too
    done = samdkit("check-data", "--format", "json", cwd=project)  # a fresh one-thread process
    assert done.returncode == 1, done.stderr
    forked = (project / "reports" / "data-check.json").read_text(encoding="utf-8")
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    assert main(["check-data", "--format", "json"]) == 1
    ordered = (project / "reports" / "data-check.json").read_text(encoding="utf-8")
    assert json.loads(forked)["passed"] < json.loads(forked)["total"]
    assert forked == ordered


def test_init_drafts_a_suite_that_validates_the_same_data(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = project / "compliance" / "expectations" / "draft.json"
    args = ["check-data", "--dataset", "data/prepared/test.csv", "--suite", str(draft)]
    assert main([*args, "--init"]) == 0
    suite = json.loads(draft.read_text(encoding="utf-8"))
    types = [e["type"] for e in suite["expectations"]]
    assert "expect_column_values_to_be_unique" in types
    assert "expect_column_values_to_not_be_in_set" in types  # train ids, fed at run time
    assert main([*args, "--format", "json", "--output", "reports/draft-check.json"]) == 0
    printed = json.loads(capsys.readouterr().out.split("\n", 1)[1])  # after the "drafted" line
    assert printed["gate"] == "check-data" and printed["verdict"] == "PASS"  # the gate-result envelope
    assert printed["detail"]["success"] is True and printed["detail"]["total"] == len(types)
    assert main([*args, "--init"]) == 2  # never overwrites a reviewed suite without --force
    assert "exists" in capsys.readouterr().err


def test_a_malformed_expectation_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = DATA / "unknown_expectation.json"
    assert main(["check-data", "--dataset", "data/prepared/train.csv", "--suite", str(suite)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid expectation suite" in err[0] and "expect_the_moon" in err[0]


@pytest.mark.parametrize(
    ("dataset", "suite", "settings", "message"),
    [
        (
            "data/prepared/missing.csv",
            "train.json",
            "",
            "data/prepared/missing.csv: dataset not found",
        ),
        ("data/prepared/empty.csv", "train.json", "", "data/prepared/empty.csv: dataset is empty"),
        (
            "data/prepared/header.csv",
            "train.json",
            "",
            "data/prepared/header.csv: dataset is empty",
        ),
        ("data/prepared/train.csv", "malformed.json", "", "malformed suite JSON"),
        ("data/prepared/train.csv", "missing.json", "", "suite file not found"),
        (
            "data/prepared/train.csv",
            "train.json",
            'datasource = "spark"\n',
            "'spark' is not supported",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    project: Path, dataset: str, suite: str, settings: str, message: str
) -> None:
    (project / "data" / "prepared" / "empty.csv").write_bytes(b"")
    (project / "data" / "prepared" / "header.csv").write_text("sample_id,label\n", encoding="utf-8")
    shutil.copy(DATA / "malformed.json", project / "compliance" / "expectations" / "malformed.json")
    (project / "pyproject.toml").write_text(
        f"[tool.samdkit.data]\n{settings}[[tool.samdkit.data.checks]]\n"
        f'dataset = "{dataset}"\nsuite = "{suite}"\n',
        encoding="utf-8",
    )
    proc = samdkit("check-data", cwd=project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert message in proc.stderr
    assert not (project / "reports" / "data-check.json").exists()


def test_help_imports_neither_great_expectations_nor_pandas() -> None:
    code = (
        "import sys\nfrom samdkit.cli import main\n"
        "for cmd in ('check-data', 'lint'):\n"
        "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('great_expectations', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--init" in proc.stdout and "notebook" in proc.stdout


def test_gx_loads_without_the_iri_format_checker() -> None:
    """rfc3987-syntax (installed beside cyclonedx-bom) costs 1.3 s at import and GX never needs it."""
    code = (
        "import sys\nfrom samdkit.data.gx import Validator\nValidator()\n"
        "import jsonschema\n"
        "print('great_expectations' in sys.modules, sys.modules.get('rfc3987_syntax', 'absent'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "None"]
