"""Issue 14: string labels with positive_label, and multiclass outcomes, through evaluate → report/card/comment.

Every number is checked against scikit-learn called directly here on the same predictions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import samdkit_cli

REPORT_DATA = Path(__file__).parent / "data" / "report"
CLASSES = ["alive", "dead", "transferred"]

REQUIREMENTS = """\
version: 1
methods:
  bootstrap_resamples: 200
  bootstrap_seed: 7
subgroups:
  - {column: sex, values: [F, M], min_n: 20}
requirements:
  - id: REQ-MC-001
    metric: sensitivity
    class: dead
    statistic: ci_lower
    comparator: ">="
    threshold: 0.30
    risks: [RISK-001]
  - id: REQ-MC-002
    metric: auroc
    comparator: ">="
    threshold: 0.70
    risks: [RISK-001]
  - id: REQ-MC-003
    metric: specificity
    class: transferred
    comparator: ">="
    threshold: 0.50
    subgroup: sex=*
    risks: [RISK-002]
"""

BINARY_REQUIREMENTS = """\
version: 1
methods:
  bootstrap_resamples: 200
  bootstrap_seed: 7
subgroups:
  - {column: sex, values: [F, M], min_n: 20}
requirements:
  - id: REQ-BIN-001
    metric: sensitivity
    class: dead
    comparator: ">="
    threshold: 0.50
    risks: [RISK-001]
  - id: REQ-BIN-002
    metric: auroc
    statistic: ci_lower
    comparator: ">="
    threshold: 0.60
    risks: [RISK-001]
"""


def multiclass_frame(n: int = 240, seed: int = 3) -> pd.DataFrame:
    """Three classes, softmax probabilities that favour the true class, a sex column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"row": np.arange(n), "label": np.array(CLASSES)[y]})
    for k, name in enumerate(CLASSES):
        frame[f"score_{name}"] = probs[:, k]
    frame["predicted"] = np.array(CLASSES)[probs.argmax(axis=1)]
    frame["sex"] = rng.choice(["F", "M"], n)
    return frame


def binary_frame(n: int = 200, seed: int = 5) -> pd.DataFrame:
    """String labels dead/alive; `predicted` 1/0 at threshold 0.5 as the contract says."""
    rng = np.random.default_rng(seed)
    dead = rng.random(n) < 0.35
    score = np.clip(rng.normal(0.3 + 0.35 * dead, 0.18), 0, 1)
    return pd.DataFrame(
        {
            "row": np.arange(n),
            "label": np.where(dead, "dead", "alive"),
            "score": score,
            "predicted": (score >= 0.5).astype(int),
            "sex": rng.choice(["F", "M"], n),
        }
    )


def make_project(root: Path, frame: pd.DataFrame, requirements: str, params: str) -> Path:
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "compliance").mkdir(exist_ok=True)
    frame.to_csv(root / "reports" / "predictions.csv", index=False)
    (root / "compliance" / "requirements.yaml").write_text(requirements)
    (root / "params.yaml").write_text(params)
    return root


MC_PARAMS = "data:\n  label_column: outcome\n  subgroup_columns: [sex]\n"
BIN_PARAMS = (
    "data:\n  positive_label: dead\n  subgroup_columns: [sex]\nevaluate:\n  threshold: 0.5\n"
)


def evaluate(root: Path, *extra: str) -> tuple[int, dict | None, subprocess.CompletedProcess]:
    done = samdkit_cli("evaluate", "--no-mlflow", *extra, cwd=root)
    path = root / "reports" / "evaluation.json"
    doc = json.loads(path.read_text()) if path.is_file() else None
    return done.returncode, doc, done


@pytest.fixture(scope="module")
def mc(tmp_path_factory):
    """A three-class project, evaluated once."""
    frame = multiclass_frame()
    root = make_project(tmp_path_factory.mktemp("mc"), frame, REQUIREMENTS, MC_PARAMS)
    code, doc, done = evaluate(root)
    assert code in (0, 1), done.stderr
    return root, frame, doc, done


# ------------------------------------------------------------------------------------------ evaluation


def test_multiclass_metrics_agree_with_sklearn(mc):
    from sklearn.metrics import confusion_matrix, roc_auc_score
    from statsmodels.stats.proportion import proportion_confint

    _, frame, doc, done = mc
    assert doc["schema"] == "samdkit/evaluation/v2"
    assert (doc["task"], doc["classes"]) == ("multiclass", CLASSES)
    overall = doc["overall"]
    matrix = confusion_matrix(frame["label"], frame["predicted"], labels=CLASSES)
    assert overall["confusion_matrix"]["matrix"] == matrix.tolist()
    assert overall["confusion_matrix"]["labels"] == CLASSES
    scores = frame[[f"score_{c}" for c in CLASSES]].to_numpy()
    macro = roc_auc_score(
        frame["label"], scores, multi_class="ovr", average="macro", labels=CLASSES
    )
    auroc = overall["metrics"]["auroc"]
    assert auroc["value"] == pytest.approx(macro)
    assert auroc["ci"]["lower"] < macro < auroc["ci"]["upper"]
    assert "bootstrap" in auroc["ci"]["method"]
    assert overall["metrics"]["accuracy"]["value"] == pytest.approx(
        (frame["label"] == frame["predicted"]).mean()
    )
    for k, name in enumerate(CLASSES):
        entry = next(e for e in overall["per_class"] if e["class"] == name)
        truth, pred = frame["label"] == name, frame["predicted"] == name
        tp, fn = int((truth & pred).sum()), int((truth & ~pred).sum())
        fp, tn = int((~truth & pred).sum()), int((~truth & ~pred).sum())
        assert entry["confusion_matrix"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        m = entry["metrics"]
        for metric, (k_, n_) in {
            "sensitivity": (tp, tp + fn),
            "specificity": (tn, tn + fp),
            "ppv": (tp, tp + fp),
            "npv": (tn, tn + fn),
        }.items():
            lower, upper = proportion_confint(k_, n_, alpha=0.05, method="wilson")
            assert m[metric]["value"] == pytest.approx(k_ / n_), (name, metric)
            assert (m[metric]["ci"]["lower"], m[metric]["ci"]["upper"]) == pytest.approx(
                (lower, upper)
            )
        assert m["auroc"]["value"] == pytest.approx(roc_auc_score(truth, scores[:, k]))
        assert m["auroc"]["ci"]["lower"] < m["auroc"]["value"] < m["auroc"]["ci"]["upper"]
        assert entry["calibration"]["bins"] and entry["calibration"]["brier"]["value"] > 0
    # subgroups carry per-class entries too, with gaps to the class's overall value
    group = next(g for g in doc["subgroups"] if g["value"] == "F")
    part = frame[frame["sex"] == "F"]
    dead = next(e for e in group["per_class"] if e["class"] == "dead")
    sens = ((part["label"] == "dead") & (part["predicted"] == "dead")).sum() / (
        part["label"] == "dead"
    ).sum()
    assert dead["metrics"]["sensitivity"]["value"] == pytest.approx(sens)
    overall_dead = next(e for e in overall["per_class"] if e["class"] == "dead")
    assert dead["gap_to_overall"]["sensitivity"] == pytest.approx(
        sens - overall_dead["metrics"]["sensitivity"]["value"]
    )
    assert "class dead (one-vs-rest)" in done.stdout


def test_criterion_naming_a_class_is_checked_against_that_class(mc):
    _, _, doc, _ = mc
    rows = {(c["id"], c["subgroup"]): c for c in doc["criteria"]}
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    row = rows[("REQ-MC-001", None)]
    assert row["class"] == "dead"
    assert row["observed"] == pytest.approx(dead["metrics"]["sensitivity"]["ci"]["lower"])
    assert row["criterion"] == "lower 95% CI bound of sensitivity of class dead >= 0.3"
    assert row["result"] == "PASS"
    assert rows[("REQ-MC-002", None)]["observed"] == doc["overall"]["metrics"]["auroc"]["value"]
    assert {k[1] for k in rows if k[0] == "REQ-MC-003"} == {"sex=F", "sex=M"}
    assert doc["verdict"] == "PASS"


def test_criterion_naming_a_class_fails_when_that_class_misses(tmp_path, mc):
    _, frame, doc, _ = mc
    dead = next(e for e in doc["overall"]["per_class"] if e["class"] == "dead")
    lower = dead["metrics"]["sensitivity"]["ci"]["lower"]
    text = REQUIREMENTS.replace("threshold: 0.30", f"threshold: {lower + 0.01:.4f}")
    root = make_project(tmp_path, frame, text, MC_PARAMS)
    code, doc2, done = evaluate(root, "--format", "github")
    assert code == 1, done.stderr
    failed = [c["id"] for c in doc2["criteria"] if c["result"] == "FAIL"]
    assert failed == ["REQ-MC-001"]
    assert "title=REQ-MC-001::" in done.stdout and "of class dead" in done.stdout


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f, r: (f, r.replace("class: dead", "class: deceased")), "class 'deceased' is not a class"),
        (lambda f, r: (f, r.replace("    class: dead\n", "")), "sensitivity of a multiclass outcome is one-vs-rest"),
        (lambda f, r: (f.drop(columns=["score_dead"]), r), "have a label that is not among the classes (alive, transferred)"),
        (lambda f, r: (f.assign(label=f["label"].replace("dead", "Dead")), r), "row(s) have a label that is not among the classes (alive, dead, transferred)"),
        (lambda f, r: (f.assign(score_dead=f["score_dead"] * 0.5), r), "do not sum to 1"),
        (lambda f, r: (f.assign(score=0.5), r), "both 'score' and score_<class> columns"),
    ],
)  # fmt: skip
def test_bad_multiclass_input_is_one_line_exit_2(tmp_path, change, words):
    frame, text = change(multiclass_frame(), REQUIREMENTS)
    root = make_project(tmp_path, frame, text, MC_PARAMS)
    code, doc, done = evaluate(root)
    assert code == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr and doc is None  # nothing written
    assert "Dead" not in done.stderr  # a label value of the data is never echoed


def test_classes_from_params_are_the_contract(tmp_path):
    frame = multiclass_frame()
    params = MC_PARAMS + "  classes: [alive, dead, transferred, unknown]\n"
    root = make_project(tmp_path, frame, REQUIREMENTS, params)
    code, _, done = evaluate(root)
    assert code == 2 and "missing column(s) score_unknown" in done.stderr
    params = MC_PARAMS + "  classes: [alive, dead, transferred]\n"
    root = make_project(tmp_path, frame.drop(columns=["predicted"]), REQUIREMENTS, params)
    code, doc, done = evaluate(root)
    assert code == 0, done.stderr
    # without `predicted`, the most probable class is the prediction
    expected = frame[[f"score_{c}" for c in CLASSES]].to_numpy().argmax(axis=1)
    assert np.trace(doc["overall"]["confusion_matrix"]["matrix"]) == int(
        (np.array(CLASSES)[expected] == frame["label"]).sum()
    )


def test_string_binary_labels_honour_positive_label(tmp_path):
    from sklearn.metrics import confusion_matrix, roc_auc_score

    frame = binary_frame()
    root = make_project(tmp_path, frame, BINARY_REQUIREMENTS, BIN_PARAMS)
    code, doc, done = evaluate(root)
    assert code == 0, done.stdout + done.stderr
    assert doc["schema"] == "samdkit/evaluation/v1" and doc["positive_label"] == "dead"
    y = (frame["label"] == "dead").astype(int)
    tn, fp, fn, tp = confusion_matrix(y, frame["predicted"]).ravel()
    assert doc["overall"]["confusion_matrix"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert doc["overall"]["metrics"]["auroc"]["value"] == pytest.approx(
        roc_auc_score(y, frame["score"])
    )
    assert doc["criteria"][0]["class"] == "dead"
    # predicted as label names instead of 1/0 gives the same evaluation
    named = frame.assign(predicted=np.where(frame["predicted"] == 1, "dead", "alive"))
    root2 = make_project(tmp_path / "named", named, BINARY_REQUIREMENTS, BIN_PARAMS)
    code2, doc2, _ = evaluate(root2)
    assert code2 == 0
    assert doc2["overall"]["confusion_matrix"] == doc["overall"]["confusion_matrix"]
    # the other label as the positive one flips the table
    root3 = make_project(
        tmp_path / "flip",
        frame.assign(score=1 - frame["score"], predicted=1 - frame["predicted"]),
        BINARY_REQUIREMENTS.replace("class: dead", "class: alive"),
        BIN_PARAMS.replace("dead", "alive"),
    )
    _, doc3, done3 = evaluate(root3)
    assert doc3["overall"]["confusion_matrix"] == {"tp": tn, "fp": fn, "fn": fp, "tn": tp}, done3
    # a typo in positive_label: two labels, neither positive → one line, exit 2
    root4 = make_project(
        tmp_path / "typo", frame, BINARY_REQUIREMENTS, BIN_PARAMS.replace("dead", "Dead")
    )
    code4, _, done4 = evaluate(root4)
    assert code4 == 2 and len(done4.stderr.strip().splitlines()) == 1
    assert "positive_label 'Dead' and one other value" in done4.stderr
    # a class of a binary criterion other than the positive label is refused
    root5 = make_project(
        tmp_path / "cls",
        frame,
        BINARY_REQUIREMENTS.replace("class: dead", "class: alive"),
        BIN_PARAMS,
    )
    code5, _, done5 = evaluate(root5)
    assert code5 == 2 and "must be the positive_label 'dead'" in done5.stderr
