"""The strict, versioned readers of samdkit's own evidence: reports/evaluation.json and reports/data-check.json.

A foreign, hand-edited or truncated file is one line naming the field (UserError, exit 2), never a KeyError
(exit 3) or a table built from a guess; what `samdkit evaluate` / `check-data` write reads back unchanged, and
the writers keep the bytes (the digests of evidence are pinned in the report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from samdkit.core.errors import UserError
from samdkit.data import result
from samdkit.evaluate import document
from tests.conftest import samdkit_cli

DATA = Path(__file__).parent / "data"
BINARY = (
    DATA / "evaluation" / "v1-binary.json"
)  # written by `samdkit evaluate` (tests/factories.py split)
MULTICLASS = (
    DATA / "evaluation" / "v2-multiclass.json"
)  # written by it on tests/test_multiclass.py's frame
DATA_CHECK = (
    DATA / "report" / "data-check-fail.json"
)  # an earlier samdkit's schema-1 result (no coverage)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def refused(read: Callable[[Any, str], Any], doc: Any, *words: str) -> str:
    with pytest.raises(UserError) as caught:
        read(doc, "reports/x.json")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("reports/x.json: ")
    for word in words:
        assert word in message, message
    return message


# ------------------------------------------------------------------------------- evaluation document


def test_what_evaluate_writes_reads_back_and_writes_the_same_bytes(tmp_path):
    for reference in (BINARY, MULTICLASS):
        doc = document.read(reference)
        assert doc == load(reference)
        out = document.write(tmp_path / reference.name, doc)
        assert out.read_bytes() == reference.read_bytes()
    assert document.read(BINARY)["schema"] == document.SCHEMA_BINARY
    assert document.read(MULTICLASS)["schema"] == document.SCHEMA_MULTICLASS


def _drop(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]

    return edit


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_drop(["verdict"]), ["'verdict' is missing"]),
        (_drop(["overall", "metrics", "auroc"]), ["'overall.metrics.auroc' is missing"]),
        (_drop(["overall", "calibration", "ece"]), ["'overall.calibration.ece' is missing"]),
        (_drop(["inputs", "predictions", "sha256"]), ["'inputs.predictions.sha256' is missing"]),
        (_drop(["criteria", 2, "result"]), ["'criteria[2].result' is missing"]),
        (_set(["overall", "n"], "171"), ["'overall.n' must be an integer >= 0"]),
        (_set(["overall", "n"], True), ["'overall.n' must be an integer"]),
        (
            _set(["overall", "metrics", "sensitivity", "value"], "0.9"),
            ["'overall.metrics.sensitivity.value' must be a number or null"],
        ),
        (
            _set(["overall", "metrics", "sensitivity", "ci", "lower"], float("nan")),
            ["'overall.metrics.sensitivity.ci.lower' must be a number or null"],
        ),
        (_set(["subgroups"], {}), ["'subgroups' must be a list"]),
        (_set(["subgroups", 0, "suppressed"], "no"), ["'subgroups[0].suppressed' must be true"]),
        (_set(["criteria", 0, "result"], "OK"), ["'criteria[0].result' must be 'PASS' or 'FAIL'"]),
        (_set(["summary", "failed"], 2), ["'summary' does not count the criteria rows"]),
        (_set(["verdict"], "FAIL"), ["'verdict' does not agree with the criteria rows"]),
        (_set(["headline_metrics"], ["sensitivity", "roc"]), ["'headline_metrics[1]'"]),
        (_set(["classes"], ["a", "b", "c"]), ["'classes' belongs to a multiclass outcome"]),
        (_set(["criteria"], [7]), ["'criteria[0]' must be an object"]),
    ],
)
def test_a_defect_in_a_binary_document_is_one_line_naming_the_field(edit, words):
    doc = load(BINARY)
    edit(doc)
    refused(document.validate, doc, "malformed evaluation", *words)


def test_a_passing_verdict_written_over_a_failed_criterion_is_refused():
    doc = load(BINARY)
    doc["criteria"][0]["result"] = (
        "FAIL"  # the hand edit leaves verdict PASS and the summary as it was
    )
    refused(document.validate, doc, "'summary' does not count the criteria rows")
    doc["summary"] = {"criteria": 6, "passed": 5, "failed": 1}
    refused(document.validate, doc, "'verdict' does not agree")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_drop(["classes"]), ["'classes' is missing"]),
        (_set(["classes"], ["alive", "dead"]), ["'classes' must list 3 or more"]),
        (_drop(["class_metrics"]), ["'class_metrics' is missing"]),
        (
            _set(["overall", "confusion_matrix", "matrix", 1], [10, 62]),
            ["'overall.confusion_matrix.matrix' must be a class x class table"],
        ),
        (
            _set(["overall", "confusion_matrix", "labels"], ["dead", "alive", "transferred"]),
            ["'overall.confusion_matrix.labels' must list the classes in order"],
        ),
        (_drop(["overall", "per_class", 1, "class"]), ["'overall.per_class' must hold one entry"]),
        (
            _drop(["overall", "per_class", 2, "metrics", "f1"]),
            ["'overall.per_class[2].metrics.f1' is missing"],
        ),
        (
            _set(["subgroups", 1, "class_counts", "dead"], -1),
            ["'subgroups[1].class_counts.dead' must be an integer >= 0"],
        ),
    ],
)
def test_a_defect_in_a_multiclass_document_is_one_line_naming_the_field(edit, words):
    doc = load(MULTICLASS)
    edit(doc)
    refused(document.validate, doc, "malformed evaluation", *words)


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], ["the top level must be a JSON object"]),
        ("PASS", ["the top level must be a JSON object"]),
        ({"verdict": "PASS"}, ["'schema' is missing"]),
        ({"schema": "samdkit/evaluation/v3"}, ["an unknown schema", "samdkit/evaluation/v1"]),
        ({"schema": "samdkit/data-check/1"}, ["an unknown schema"]),
    ],
)
def test_a_foreign_document_is_refused(doc, words):
    refused(document.validate, doc, *words)


def test_a_truncated_or_missing_evaluation_file_is_bad_input(tmp_path):
    text = BINARY.read_text(encoding="utf-8")
    cut = tmp_path / "evaluation.json"
    cut.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(UserError, match=r"evaluation\.json: unreadable JSON"):
        document.read(cut)
    with pytest.raises(UserError, match=r"reports/evaluation\.json: evaluation not found"):
        document.read(tmp_path / "absent.json", "reports/evaluation.json")


def test_the_writer_refuses_a_document_it_could_not_read_back(tmp_path):
    doc = load(BINARY)
    del doc["overall"]["metrics"]["npv"]
    with pytest.raises(UserError, match=r"'overall\.metrics\.npv' is missing"):
        document.write(tmp_path / "evaluation.json", doc)
    assert not (tmp_path / "evaluation.json").exists()


def test_the_pccp_judges_only_a_valid_evaluation():
    from samdkit.evaluate.criteria import Criterion
    from samdkit.regulatory import pccp

    criterion = Criterion(
        id="PCCP-1", metric="auroc", statistic="value", comparator=">=", threshold=0.8, line=3
    )
    plan = {"path": "compliance/pccp.yaml", "_criteria": [criterion]}
    judged = pccp.judge(plan, load(BINARY))
    assert judged["verdict"] == "PASS" and judged["criteria"][0]["observed"] > 0.8
    doc = load(BINARY)
    doc["overall"]["metrics"]["auroc"] = {"val": 0.99}
    with pytest.raises(UserError, match=r"'overall\.metrics\.auroc\.value' is missing"):
        pccp.judge(plan, doc)


# ------------------------------------------------------------------------------- data-check result


def test_a_data_check_result_reads_back_and_writes_the_same_bytes(tmp_path):
    doc = result.read(DATA_CHECK)
    assert doc == load(DATA_CHECK) and doc["success"] is False
    out = result.write(tmp_path / "data-check.json", doc)
    assert json.loads(out.read_text()) == doc
    assert out.read_bytes() == result.write(tmp_path / "again.json", load(DATA_CHECK)).read_bytes()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_drop(["success"]), ["'success' is missing"]),
        (
            _drop(["validations", 0, "suite", "sha256"]),
            ["'validations[0].suite.sha256' is missing"],
        ),
        (
            _drop(["validations", 1, "expectations", 3, "success"]),
            ["'validations[1].expectations[3].success' is missing"],
        ),
        (_set(["passed"], "204"), ["'passed' must be an integer >= 0"]),
        (_set(["validations"], {}), ["'validations' must be a list"]),
        (_set(["validations", 0, "dataset", "rows"], 3.5), ["'validations[0].dataset.rows'"]),
        (
            _set(["validations", 0, "expectations", 0, "success"], "true"),
            ["'validations[0].expectations[0].success' must be true or false"],
        ),
        (_set(["success"], True), ["'success' does not agree"]),
        (_set(["passed"], 205), ["'passed' does not add up the validations"]),
        (_set(["coverage"], {"datasets": []}), ["'coverage.unchecked' is missing"]),
        (_set(["engines"], "pandas"), ["'engines' must be a list of strings"]),
    ],
)
def test_a_defect_in_a_data_check_result_is_one_line_naming_the_field(edit, words):
    doc = load(DATA_CHECK)
    edit(doc)
    refused(result.validate, doc, "malformed data-check result", *words)


def test_a_passing_data_check_with_an_unchecked_dataset_is_refused():
    doc = load(DATA / "report" / "data-check-pass.json")
    doc["coverage"] = {
        "datasets": ["data/raw/x.csv"],
        "unchecked": ["data/raw/x.csv"],
        "exempt": {},
    }
    refused(result.validate, doc, "'success' does not agree with the validations and the coverage")
    doc["success"] = (
        False  # what check-data writes: every expectation passed, one dataset unchecked
    )
    assert result.validate(doc, "reports/data-check.json") is doc


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([1, 2], ["the top level must be a JSON object"]),
        ({"success": True}, ["'schema' is missing"]),
        ({"schema": "samdkit/data-check/2"}, ["an unknown schema", "samdkit/data-check/1"]),
        ({"schema": document.SCHEMA_BINARY}, ["an unknown schema"]),
    ],
)
def test_a_foreign_data_check_result_is_refused(doc, words):
    refused(result.validate, doc, *words)


def test_a_truncated_or_missing_data_check_file_is_bad_input(tmp_path):
    cut = tmp_path / "data-check.json"
    cut.write_bytes(DATA_CHECK.read_bytes()[:500])
    with pytest.raises(UserError, match=r"data-check\.json: unreadable JSON"):
        result.read(cut)
    with pytest.raises(UserError, match=r"data-check result not found"):
        result.read(tmp_path / "absent.json")


# ------------------------------------------------------------------------------- through the CLI


def test_the_pr_comment_stops_on_a_hand_edited_evidence_file_naming_the_field(tmp_path):
    """`samdkit comment` reads both files through these readers: exit 2, one line, nothing posted."""
    reports = tmp_path / "reports"
    reports.mkdir()
    doc = load(BINARY)
    doc["overall"]["n"] = "171"
    (reports / "evaluation.json").write_text(json.dumps(doc), encoding="utf-8")
    done = samdkit_cli("comment", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"samdkit comment: error: {reports / 'evaluation.json'}: malformed evaluation: "
        "'overall.n' must be an integer >= 0"
    ]
    (reports / "evaluation.json").write_bytes(BINARY.read_bytes())
    check = load(DATA_CHECK)
    check["success"] = True
    (reports / "data-check.json").write_text(json.dumps(check), encoding="utf-8")
    done = samdkit_cli("comment", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "malformed data-check result: 'success' does not agree" in done.stderr
    assert "Traceback" not in done.stderr
