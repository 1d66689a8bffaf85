"""samdkit evaluate: metrics against independent computation, criteria grammar, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from samdkit.cli import main
from samdkit.core.errors import UserError
from samdkit.evaluate import criteria, metrics

DATA = Path(__file__).parent / "data" / "report"


# ---------------------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("k", "n", "method", "lower", "upper"),
    [
        # Newcombe (1998), Stat Med 17:857, Table I: the published Wilson and Clopper-Pearson intervals
        (81, 263, "wilson", 0.2553, 0.3662),
        (15, 148, "wilson", 0.0624, 0.1605),
        (0, 20, "wilson", 0.0, 0.1611),
        (81, 263, "clopper-pearson", 0.2527, 0.3676),
    ],
)
def test_proportion_matches_published_intervals(k, n, method, lower, upper):
    entry = metrics.proportion(k, n, metrics.Methods(proportion_ci=method))
    assert entry["value"] == pytest.approx(k / n)
    assert entry["ci"]["lower"] == pytest.approx(lower, abs=5e-5)
    assert entry["ci"]["upper"] == pytest.approx(upper, abs=5e-5)
    assert entry["ci"]["method"] == metrics.METHOD_NAMES[method]


def _hand_countable():
    """TP 45, FN 5, TN 90, FP 10; scores separate the classes imperfectly."""
    y = np.r_[np.ones(50, int), np.zeros(100, int)]
    pred = np.r_[np.ones(45, int), np.zeros(5, int), np.zeros(90, int), np.ones(10, int)]
    rng = np.random.default_rng(3)
    score = np.clip(np.where(pred == 1, 0.7, 0.3) + rng.normal(0, 0.15, len(y)), 0.001, 0.999)
    return y, score, pred


def test_classification_two_by_two_and_intervals_agree_with_independent_calls():
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
    from statsmodels.stats.proportion import proportion_confint

    y, score, pred = _hand_countable()
    result = metrics.classification(y, score, pred, metrics.Methods(bootstrap_resamples=300))
    assert result["confusion_matrix"] == {"tp": 45, "fn": 5, "tn": 90, "fp": 10}
    m = result["metrics"]
    expected = {
        "sensitivity": (45, 50),
        "specificity": (90, 100),
        "ppv": (45, 55),
        "npv": (90, 95),
        "accuracy": (135, 150),
    }
    for name, (k, n) in expected.items():
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert m[name]["value"] == pytest.approx(k / n), name
        assert (m[name]["ci"]["lower"], m[name]["ci"]["upper"]) == pytest.approx((lo, hi)), name
    assert m["f1"]["value"] == pytest.approx(f1_score(y, pred))
    assert m["f1"]["value"] == pytest.approx(2 * 45 / (2 * 45 + 10 + 5))
    assert m["auroc"]["value"] == pytest.approx(roc_auc_score(y, score))
    assert m["auprc"]["value"] == pytest.approx(average_precision_score(y, score))
    for name in ("f1", "auroc", "auprc"):
        ci = m[name]["ci"]
        assert ci["lower"] <= m[name]["value"] <= ci["upper"], name
        assert 0 < ci["upper"] - ci["lower"] < 0.5, name
        assert "bootstrap" in ci["method"]


def test_bootstrap_statistics_equal_the_library_metric():
    """The vectorised bootstrap statistics compute the same AUROC / F1 as scikit-learn."""
    from sklearn.metrics import f1_score, roc_auc_score

    y, score, pred = _hand_countable()
    auroc = metrics._auroc_stat(score[y == 1][None, :], score[y == 0][None, :])
    assert float(auroc[0]) == pytest.approx(roc_auc_score(y, score))
    f1 = metrics._f1_stat(pred[y == 1][None, :], pred[y == 0][None, :])
    assert float(f1[0]) == pytest.approx(f1_score(y, pred))


def test_auprc_statistic_scores_each_resample_as_scikit_learn_does():
    """One multilabel call over a batch of resamples equals average_precision_score on each, ties included."""
    from sklearn.metrics import average_precision_score

    y, score, _ = _hand_countable()
    rng = np.random.default_rng(7)
    pos, neg = np.round(score[y == 1], 1), np.round(score[y == 0], 1)  # rounded: many ties
    batch_pos = pos[rng.integers(0, len(pos), size=(5, len(pos)))]
    batch_neg = neg[rng.integers(0, len(neg), size=(5, len(neg)))]
    got = metrics._auprc_stat(batch_pos, batch_neg)
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    expected = [
        average_precision_score(labels, np.r_[p, n])
        for p, n in zip(batch_pos, batch_neg, strict=True)
    ]
    assert got.shape == (5,)
    assert got == pytest.approx(expected)
    assert metrics._auprc_stat(pos, neg) == pytest.approx(
        average_precision_score(y, score.round(1))
    )


def test_bootstrap_is_seeded_and_the_seed_matters():
    y, score, pred = _hand_countable()
    a = metrics.classification(
        y, score, pred, metrics.Methods(bootstrap_resamples=200, bootstrap_seed=1)
    )
    b = metrics.classification(
        y, score, pred, metrics.Methods(bootstrap_resamples=200, bootstrap_seed=1)
    )
    c = metrics.classification(
        y, score, pred, metrics.Methods(bootstrap_resamples=200, bootstrap_seed=2)
    )
    assert a["metrics"]["auroc"]["ci"] == b["metrics"]["auroc"]["ci"]
    assert a["metrics"]["auroc"]["ci"] != c["metrics"]["auroc"]["ci"]


def test_calibration_slope_detects_overconfidence():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 6000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    good = metrics.calibration(y, p, metrics.Methods())
    assert good["calibration_slope"]["value"] == pytest.approx(1.0, abs=0.1)
    assert good["calibration_intercept"]["value"] == pytest.approx(0.0, abs=0.1)
    assert good["ece"]["value"] < 0.03
    logit = np.log(p / (1 - p))
    over = 1 / (1 + np.exp(-2 * logit))  # twice as extreme: true slope 0.5
    bad = metrics.calibration(y, over, metrics.Methods())
    assert bad["calibration_slope"]["value"] == pytest.approx(0.5, abs=0.06)
    assert bad["ece"]["value"] > good["ece"]["value"] + 0.03
    assert sum(b["n"] for b in bad["bins"]) == y.size


# ---------------------------------------------------------------------------------------------- grammar


def test_requirements_fixture_parses():
    req = criteria.load(DATA / "requirements.yaml")
    assert [c.id for c in req.criteria][:2] == ["REQ-PERF-001", "REQ-PERF-002"]
    assert req.methods.bootstrap_resamples == 200
    assert req.min_n("size_tertile") == 30
    fair = req.criteria[-1]
    assert (fair.subgroup_column, fair.subgroup_value) == ("size_tertile", None)


@pytest.mark.parametrize(
    ("patch", "line", "words"),
    [
        (("metric: auroc", "metric: auroc_typo"), 34, "unknown metric 'auroc_typo'"),
        (
            ('comparator: ">="\n    threshold: 0.85', 'comparator: "=>"\n    threshold: 0.85'),
            29,
            "comparator",
        ),
        (("threshold: 0.90", "threshold: high"), 37, "threshold must be a number"),
        (
            (
                'statistic: ci_lower\n    comparator: ">="\n    threshold: 0.80',
                'statistic: median\n    comparator: ">="\n    threshold: 0.80',
            ),
            21,
            "statistic",
        ),
        (("subgroup: size_tertile=*", "subgroup: size_tertile"), 44, "subgroup must be"),
        (
            ("    risks: [RISK-002]", "    risks: [RISK-002]\n    colour: red"),
            32,
            "unknown key 'colour'",
        ),
    ],
)
def test_malformed_criterion_names_file_and_line(tmp_path, patch, line, words):
    text = (DATA / "requirements.yaml").read_text()
    old, new = patch
    assert old in text
    path = tmp_path / "requirements.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(UserError) as exc:
        criteria.load(path)
    message = str(exc.value)
    assert f"requirements.yaml:{line}:" in message, message
    assert words in message


def test_plain_metric_has_no_interval(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "requirements:\n  - id: R1\n    metric: brier\n    statistic: ci_upper\n"
        "    comparator: '<='\n    threshold: 0.2\n"
    )
    with pytest.raises(UserError, match=r"r.yaml:4: R1: brier has no confidence interval"):
        criteria.load(path)


# ---------------------------------------------------------------------------------------------- the command


def make_project(root: Path, predictions: Path, requirements_text: str | None = None) -> Path:
    (root / "reports").mkdir(parents=True, exist_ok=True)
    (root / "compliance").mkdir(exist_ok=True)
    shutil.copy(predictions, root / "reports" / "predictions.csv")
    text = requirements_text or (DATA / "requirements.yaml").read_text()
    (root / "compliance" / "requirements.yaml").write_text(text)
    (root / "params.yaml").write_text(
        "data:\n  subgroup_columns: [size_tertile]\nevaluate:\n  threshold: 0.5\n"
    )
    return root


def test_evaluate_writes_json_that_agrees_with_sklearn(tmp_path, predictions, monkeypatch, capsys):
    import pandas as pd
    from sklearn.metrics import confusion_matrix, roc_auc_score

    make_project(tmp_path, predictions)
    monkeypatch.chdir(tmp_path)
    code = main(["evaluate"])
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "reports" / "evaluation.json").read_text())
    frame = pd.read_csv(predictions)
    tn, fp, fn, tp = confusion_matrix(frame["label"], frame["predicted"]).ravel()
    assert doc["overall"]["confusion_matrix"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert doc["overall"]["metrics"]["auroc"]["value"] == pytest.approx(
        roc_auc_score(frame["label"], frame["score"])
    )
    medium = frame[frame["size_tertile"] == "medium"]
    group = next(g for g in doc["subgroups"] if g["value"] == "medium")
    assert group["n"] == len(medium)
    s = (medium["predicted"][medium["label"] == 1] == 1).mean()
    assert group["metrics"]["sensitivity"]["value"] == pytest.approx(s)
    assert group["gap_to_overall"]["sensitivity"] == pytest.approx(
        s - doc["overall"]["metrics"]["sensitivity"]["value"]
    )
    assert doc["schema"] == "samdkit/evaluation/v1"
    assert doc["inputs"]["predictions"]["rows"] == len(frame)
    assert len(doc["criteria"]) == 3 + 3  # the subgroup criterion expands to each tertile
    assert code == (0 if doc["verdict"] == "PASS" else 1)
    assert doc["verdict"] == "PASS", out
    assert "MLflow: not logged" in out
    # the small tertile has no malignant case: sensitivity is undefined there, reported as such, not hidden
    small = next(g for g in doc["subgroups"] if g["value"] == "small")
    assert small["n_positive"] == (frame[frame["size_tertile"] == "small"]["label"] == 1).sum() == 0
    assert small["metrics"]["sensitivity"]["value"] is None
    assert small["metrics"]["sensitivity"]["note"] == "undefined: denominator is 0"


def test_evaluation_spread_over_cores_equals_the_one_computed_in_order(
    tmp_path, predictions, monkeypatch
):
    """The CLI bootstraps overall and each subgroup in forked workers; the document must not change."""
    from samdkit.core import parallel
    from tests.conftest import samdkit_cli

    forked, ordered = make_project(tmp_path / "forked", predictions), tmp_path / "ordered"
    make_project(ordered, predictions)
    done = samdkit_cli(
        "evaluate", "--no-mlflow", cwd=forked
    )  # a fresh one-thread process: it forks
    assert done.returncode == 0, done.stderr
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    monkeypatch.chdir(ordered)
    assert main(["evaluate", "--no-mlflow"]) == 0
    doc = json.loads((forked / "reports" / "evaluation.json").read_text())
    assert len(doc["subgroups"]) == 3
    assert doc == json.loads((ordered / "reports" / "evaluation.json").read_text())


def test_criterion_on_undefined_metric_fails(tmp_path, predictions, monkeypatch, capsys):
    import hashlib

    text = (
        (DATA / "requirements.yaml").read_text().replace("metric: accuracy", "metric: sensitivity")
    )
    make_project(tmp_path, predictions, text)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--format", "json"]) == 1
    written = (tmp_path / "reports" / "evaluation.json").read_bytes()
    doc = json.loads(written)
    small = next(c for c in doc["criteria"] if c["subgroup"] == "size_tertile=small")
    assert (small["result"], small["reason"]) == ("FAIL", "metric undefined for these cases")
    # --format json: the gate-result envelope, the evaluation's own data under detail
    printed = json.loads(capsys.readouterr().out)
    assert printed["schema"] == "samdkit/gate-result/v1" and printed["gate"] == "evaluate"
    assert printed["verdict"] == "FAIL" and printed["summary"] == doc["summary"]
    sha256 = hashlib.sha256(written).hexdigest()
    assert printed["outputs"] == {"evaluation": "reports/evaluation.json", "sha256": sha256}
    assert printed["detail"]["evaluation"]["schema"] == "samdkit/evaluation/v1"
    assert (
        printed["detail"]["metrics"]["auroc"]["value"]
        == doc["overall"]["metrics"]["auroc"]["value"]
    )
    assert [f["check"] for f in printed["findings"]] == [
        c["id"] for c in doc["criteria"] if c["result"] == "FAIL"
    ]
    assert len(printed["detail"]["criteria"]) == len(doc["criteria"])


def test_failing_criterion_exits_1_and_names_it(tmp_path, predictions, monkeypatch, capsys):
    text = (DATA / "requirements.yaml").read_text().replace("threshold: 0.90", "threshold: 0.999")
    make_project(tmp_path, predictions, text)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert "::error file=compliance/requirements.yaml,line=32,title=REQ-PERF-003::" in out
    doc = json.loads((tmp_path / "reports" / "evaluation.json").read_text())
    assert doc["verdict"] == "FAIL"
    failed = [c["id"] for c in doc["criteria"] if c["result"] == "FAIL"]
    assert failed == ["REQ-PERF-003"]


def test_subgroup_below_min_n_is_flagged_and_fails_its_criterion(
    tmp_path, predictions, monkeypatch
):
    text = (DATA / "requirements.yaml").read_text().replace("min_n: 30", "min_n: 1000")
    make_project(tmp_path, predictions, text)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--format", "json"]) == 1
    doc = json.loads((tmp_path / "reports" / "evaluation.json").read_text())
    assert sorted(doc["subgroups_below_min_n"]) == [
        "size_tertile=large",
        "size_tertile=medium",
        "size_tertile=small",
    ]
    assert all(
        g["metrics"]["accuracy"]["value"] is not None for g in doc["subgroups"]
    )  # not hidden
    fair = [c for c in doc["criteria"] if c["id"] == "REQ-FAIR-001"]
    assert len(fair) == 3
    assert all(c["result"] == "FAIL" and "below the minimum" in c["reason"] for c in fair)


def test_bad_inputs_exit_2_with_one_line(tmp_path, predictions, monkeypatch, capsys):
    make_project(tmp_path, predictions)
    monkeypatch.chdir(tmp_path)
    text = (tmp_path / "compliance" / "requirements.yaml").read_text()
    (tmp_path / "compliance" / "requirements.yaml").write_text(
        text.replace("metric: auroc", "metric: roc")
    )
    assert main(["evaluate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "requirements.yaml:34: REQ-PERF-003: unknown metric 'roc'" in err
    (tmp_path / "compliance" / "requirements.yaml").write_text(text)
    assert main(["evaluate", "--threshold", "0.9"]) == 2
    assert "disagrees with score >= threshold" in capsys.readouterr().err
    (tmp_path / "reports" / "predictions.csv").unlink()
    assert main(["evaluate"]) == 2
    assert "predictions.csv: file not found" in capsys.readouterr().err


@pytest.mark.slow
def test_metrics_logged_to_the_mlflow_run(tmp_path, predictions, monkeypatch, capsys):
    import mlflow

    make_project(tmp_path, predictions)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as active:
            run_id = active.info.run_id
    finally:  # MLflow keeps the URI in a global and in os.environ: leave neither behind
        mlflow.set_tracking_uri("")
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "reports" / "train_run.json").write_text(
        json.dumps({"run_id": run_id, "tracking_uri": uri})
    )
    assert main(["evaluate"]) == 0
    assert "logged" in capsys.readouterr().out
    run = mlflow.tracking.MlflowClient(uri).get_run(run_id)
    doc = json.loads((tmp_path / "reports" / "evaluation.json").read_text())
    assert run.data.metrics["test_sensitivity"] == pytest.approx(
        doc["overall"]["metrics"]["sensitivity"]["value"]
    )
    assert run.data.tags["samdkit.evaluation.verdict"] == "PASS"


def test_template_requirements_parse():
    """The generated project's requirements.yaml follows this grammar (it holds no cookiecutter variable)."""
    path = (
        Path(__file__).resolve().parent.parent
        / "template"
        / "{{cookiecutter.project_slug}}"
        / "compliance"
        / "requirements.yaml"
    )
    if not path.is_file():
        pytest.skip("template not present")
    req = criteria.load(path)
    assert req.criteria and all(c.metric in metrics.METRICS for c in req.criteria)
    assert req.min_n("size_tertile") >= 1
