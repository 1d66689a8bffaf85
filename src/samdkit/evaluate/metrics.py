# ruff: noqa: RUF001, RUF002  (typographic dashes and signs are intended: they are printed in the evidence)
"""Diagnostic-accuracy metrics with 95 % confidence intervals, calibration and reliability curves.

Every number comes from a maintained library: scikit-learn (2×2 table, AUROC, AUPRC, Brier score, curves),
statsmodels (Wilson / Clopper–Pearson intervals, logistic recalibration) and scipy (bootstrap, Mann–Whitney U).
Each interval carries the name of its method. Heavy imports stay inside the functions (see docs/conventions.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# metric name -> (kind, human label). kind: proportion (binomial CI), bootstrap, calibration (model fit CI)
# or plain (no CI). The grammar of requirements.yaml accepts exactly these names.
METRICS: dict[str, tuple[str, str]] = {
    "sensitivity": ("proportion", "Sensitivity (recall, TPR)"),
    "specificity": ("proportion", "Specificity (TNR)"),
    "ppv": ("proportion", "Positive predictive value (precision)"),
    "npv": ("proportion", "Negative predictive value"),
    "accuracy": ("proportion", "Accuracy"),
    "prevalence": ("proportion", "Prevalence"),
    "f1": ("bootstrap", "F1 score"),
    "auroc": ("bootstrap", "Area under the ROC curve"),
    "auprc": ("bootstrap", "Area under the PR curve (average precision)"),
    "brier": ("plain", "Brier score"),
    "ece": ("plain", "Expected calibration error"),
    "calibration_slope": ("calibration", "Calibration slope"),
    "calibration_intercept": ("calibration", "Calibration intercept (calibration-in-the-large)"),
}
# metrics shown in the results tables, in this order
HEADLINE = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "auroc", "auprc")

PROPORTION_METHODS = {"wilson": "wilson", "clopper-pearson": "beta"}
METHOD_NAMES = {
    "wilson": "Wilson score interval",
    "clopper-pearson": "Clopper–Pearson exact interval",
}


@dataclass(frozen=True)
class Methods:
    """The predetermined statistical methods (from requirements.yaml `methods:`)."""

    confidence_level: float = 0.95
    proportion_ci: str = "wilson"  # wilson | clopper-pearson
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 20240521
    calibration_bins: int = 10

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence_level": self.confidence_level,
            "proportion_ci": {
                "name": self.proportion_ci,
                "description": METHOD_NAMES[self.proportion_ci],
                "library": "statsmodels.stats.proportion.proportion_confint",
            },
            "bootstrap": {
                "resamples": self.bootstrap_resamples,
                "seed": self.bootstrap_seed,
                "method": "percentile",
                "stratified": True,
                "description": "stratified (by class) percentile bootstrap, numpy PCG64 seeded",
                "library": "scipy.stats.bootstrap",
            },
            "calibration": {
                "bins": self.calibration_bins,
                "strategy": "uniform",
                "slope": "logistic regression of the label on logit(score) (statsmodels Logit), Wald CI",
                "intercept": "calibration-in-the-large: intercept of a logistic GLM with logit(score) "
                "as offset (statsmodels GLM), Wald CI",
                "ece": "sum over bins of n_bin/N * |observed fraction - mean score|",
            },
        }


def _clean(value: Any) -> float | None:
    """A float for JSON (None for NaN / infinity / missing)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(lower: Any, upper: Any, level: float, method: str) -> dict[str, Any]:
    return {"lower": _clean(lower), "upper": _clean(upper), "level": level, "method": method}


def proportion(successes: int, total: int, methods: Methods) -> dict[str, Any]:
    """successes/total with its binomial confidence interval (statsmodels proportion_confint)."""
    from statsmodels.stats.proportion import proportion_confint

    entry: dict[str, Any] = {"numerator": int(successes), "denominator": int(total)}
    if total == 0:
        method = METHOD_NAMES[methods.proportion_ci]
        entry.update(value=None, ci=_interval(None, None, methods.confidence_level, method))
        entry["note"] = "undefined: denominator is 0"
        return entry
    lower, upper = proportion_confint(
        successes,
        total,
        alpha=1 - methods.confidence_level,
        method=PROPORTION_METHODS[methods.proportion_ci],
    )
    entry["value"] = successes / total
    entry["ci"] = _interval(
        lower, upper, methods.confidence_level, METHOD_NAMES[methods.proportion_ci]
    )
    return entry


def _auroc_stat(pos, neg, axis=-1):
    """AUROC as the Mann–Whitney U statistic / (n_pos * n_neg), vectorised for the bootstrap."""
    from scipy.stats import mannwhitneyu

    u = mannwhitneyu(pos, neg, axis=axis, method="asymptotic").statistic
    return u / (pos.shape[axis] * neg.shape[axis])


def _auprc_stat(pos, neg, axis=-1):
    """Average precision of every resample in one call: scikit-learn's multilabel form, one column each.

    The bootstrap is stratified, so every resample has the same labels (positives first); the scores of
    resample i are column i. scikit-learn validates the inputs once instead of once per resample.
    """
    import numpy as np
    import sklearn
    from sklearn.metrics import average_precision_score

    pos = np.moveaxis(np.atleast_2d(pos), axis, -1)
    neg = np.moveaxis(np.atleast_2d(neg), axis, -1)
    scores = np.concatenate([pos, neg], axis=-1).reshape(-1, pos.shape[-1] + neg.shape[-1]).T
    labels = np.r_[np.ones(pos.shape[-1], dtype=int), np.zeros(neg.shape[-1], dtype=int)]
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        if scores.shape[1] == 1:
            return average_precision_score(labels, scores[:, 0])
        columns = np.broadcast_to(labels[:, None], scores.shape)
        out = average_precision_score(columns, scores, average=None)
    return np.asarray(out).reshape(pos.shape[:-1])


def _f1_stat(pos_pred, neg_pred, axis=-1):
    """F1 from the predicted classes of positives and negatives (2TP / (2TP + FP + FN))."""
    tp = pos_pred.sum(axis=axis)
    fn = pos_pred.shape[axis] - tp
    fp = neg_pred.sum(axis=axis)
    return 2 * tp / (2 * tp + fp + fn)


def _bootstrap(samples, statistic, value: float | None, methods: Methods, vectorized: bool):
    """Stratified percentile bootstrap: each class is resampled independently (scipy.stats.bootstrap)."""
    import numpy as np
    from scipy.stats import bootstrap

    entry: dict[str, Any] = {"value": _clean(value)}
    method = f"stratified percentile bootstrap ({methods.bootstrap_resamples} resamples)"
    if value is None or any(len(s) < 2 for s in samples):
        entry["ci"] = _interval(None, None, methods.confidence_level, method)
        entry["note"] = "no interval: fewer than 2 cases in a class"
        return entry
    result = bootstrap(
        samples,
        statistic,
        n_resamples=methods.bootstrap_resamples,
        confidence_level=methods.confidence_level,
        method="percentile",
        vectorized=vectorized,
        rng=np.random.default_rng(methods.bootstrap_seed),
    )
    ci = result.confidence_interval
    entry["ci"] = _interval(ci.low, ci.high, methods.confidence_level, method)
    return entry


def classification(
    y,
    score,
    predicted,
    methods: Methods,
    *,
    bootstrap: bool = True,
    intervals: tuple[str, ...] = ("f1", "auroc", "auprc"),
) -> dict[str, Any]:
    """2×2 table and every headline metric with its CI, for one set of cases.

    `intervals` names the bootstrapped metrics; the others get their value and `ci: null` (the
    one-vs-rest AUPRC of each class of a multiclass outcome: its bootstrap is the slow one).
    """
    import numpy as np
    from sklearn.metrics import (
        average_precision_score,
        confusion_matrix,
        f1_score,
        roc_auc_score,
    )

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    predicted = np.asarray(predicted, dtype=int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    n = len(y)
    both = tp + fn > 0 and tn + fp > 0
    metrics: dict[str, Any] = {
        "sensitivity": proportion(tp, tp + fn, methods),
        "specificity": proportion(tn, tn + fp, methods),
        "ppv": proportion(tp, tp + fp, methods),
        "npv": proportion(tn, tn + fn, methods),
        "accuracy": proportion(tp + tn, n, methods),
        "prevalence": proportion(tp + fn, n, methods),
    }
    f1 = f1_score(y, predicted, labels=[0, 1], zero_division=np.nan) if n else None
    auroc = roc_auc_score(y, score) if both else None
    auprc = average_precision_score(y, score) if both else None
    pos, neg = score[y == 1], score[y == 0]
    pos_pred, neg_pred = predicted[y == 1], predicted[y == 0]
    boot = {
        "f1": ((pos_pred, neg_pred), _f1_stat, f1),
        "auroc": ((pos, neg), _auroc_stat, auroc),
        "auprc": ((pos, neg), _auprc_stat, auprc),
    }
    for name, (samples, statistic, value) in boot.items():
        if bootstrap and name in intervals:
            metrics[name] = _bootstrap(samples, statistic, value, methods, True)
        else:
            metrics[name] = {"value": _clean(value), "ci": None}
    if not both:
        for name in ("auroc", "auprc"):
            metrics[name]["note"] = "undefined: only one class present"
    return {
        "n": n,
        "n_positive": tp + fn,
        "n_negative": tn + fp,
        "confusion_matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "metrics": metrics,
    }


def _logit(p):
    import numpy as np

    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibration(y, score, methods: Methods) -> dict[str, Any]:
    """Brier score, calibration slope / intercept (statsmodels), ECE and the reliability curve."""
    import warnings

    import numpy as np
    import statsmodels.api as sm
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    level = methods.confidence_level
    out: dict[str, Any] = {"brier": {"value": None}, "ece": {"value": None}, "bins": []}
    out["calibration_slope"] = {"value": None, "ci": _interval(None, None, level, "Wald (Logit)")}
    out["calibration_intercept"] = {"value": None, "ci": _interval(None, None, level, "Wald (GLM)")}
    if len(y) == 0:
        return out
    out["brier"] = {"value": _clean(brier_score_loss(y, score))}
    if len(set(y.tolist())) == 2:
        lp = _logit(score)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.Logit(y, sm.add_constant(lp)).fit(disp=0)
                lo, hi = fit.conf_int(alpha=1 - level)[1]
                out["calibration_slope"] = {
                    "value": _clean(fit.params[1]),
                    "ci": _interval(lo, hi, level, "Wald (statsmodels Logit)"),
                }
                glm = sm.GLM(
                    y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp
                ).fit()
                lo, hi = glm.conf_int(alpha=1 - level)[0]
                out["calibration_intercept"] = {
                    "value": _clean(glm.params[0]),
                    "ci": _interval(lo, hi, level, "Wald (statsmodels GLM, logit offset)"),
                }
        except Exception as exc:  # perfect separation, singular matrix: say so instead of a number
            note = f"not estimable: {type(exc).__name__}"
            out["calibration_slope"]["note"] = out["calibration_intercept"]["note"] = note
    # reliability curve: the bins of sklearn's calibration_curve (uniform strategy) with their counts
    bins = methods.calibration_bins
    prob_true, prob_pred = calibration_curve(y, score, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], score)  # the same assignment calibration_curve uses
    counts = np.bincount(ids, minlength=bins)
    filled = np.flatnonzero(counts)
    ece = 0.0
    for k, b in enumerate(filled):
        ece += counts[b] / len(y) * abs(prob_true[k] - prob_pred[k])
        out["bins"].append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "n": int(counts[b]),
                "mean_score": float(prob_pred[k]),
                "observed_fraction": float(prob_true[k]),
            }
        )
    out["ece"] = {"value": _clean(ece)}
    return out


def curves(y, score) -> dict[str, Any]:
    """ROC and PR curves (scikit-learn), for the plots."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y, dtype=int)
    if len(set(y.tolist())) < 2:
        return {}
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=True)
    precision, recall, _ = precision_recall_curve(y, score, drop_intermediate=True)
    return {
        "roc": {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]},
        "pr": {"recall": [float(v) for v in recall], "precision": [float(v) for v in precision]},
    }


def flat(entry: dict[str, Any]) -> dict[str, Any]:
    """All scalar metrics of a classification + calibration entry, by name (for criteria and MLflow)."""
    merged = dict(entry.get("metrics", {}))
    for name in ("brier", "ece", "calibration_slope", "calibration_intercept"):
        if name in entry.get("calibration", {}):
            merged[name] = entry["calibration"][name]
    return merged


# metrics of a multiclass outcome as a whole; every other metric is one-vs-rest and needs a class
MULTICLASS_OVERALL = ("accuracy", "auroc")


def _macro_auroc_stat(scores):
    """Macro one-vs-rest AUROC of resampled row indices (one sample per reference class), vectorised."""
    import numpy as np

    def statistic(*idx, axis=-1):
        idx = [np.asarray(i).astype(int) for i in idx]
        per_class = []
        for k, own in enumerate(idx):
            rest = np.concatenate([i for j, i in enumerate(idx) if j != k], axis=axis)
            per_class.append(_auroc_stat(scores[own, k], scores[rest, k], axis=axis))
        return np.mean(per_class, axis=0)

    return statistic


def multiclass(
    y, scores, predicted, classes: list[str], methods: Methods, *, bootstrap: bool = True
) -> dict[str, Any]:
    """K×K confusion matrix, accuracy, macro AUROC and a one-vs-rest binary entry per class.

    Each class's entry is exactly the binary entry (classification + calibration) of "this class vs
    the rest", so its CIs use the same binomial and stratified bootstrap methods as a binary outcome.
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix, roc_auc_score
    from sklearn.preprocessing import label_binarize

    y = np.asarray(y, dtype=str)
    predicted = np.asarray(predicted, dtype=str)
    scores = np.asarray(scores, dtype=float)
    matrix = confusion_matrix(y, predicted, labels=classes)
    n = len(y)
    per_class = []
    for k, name in enumerate(classes):
        entry = classification(
            y == name,
            scores[:, k],
            predicted == name,
            methods,
            bootstrap=bootstrap,
            intervals=("f1", "auroc"),
        )
        entry["calibration"] = calibration(y == name, scores[:, k], methods)
        per_class.append({"class": name, **entry})
    every = all(0 < e["n_positive"] < n for e in per_class)
    macro = None
    if every:  # scikit-learn's macro average of the one-vs-rest AUROCs (indicator form)
        macro = roc_auc_score(label_binarize(y, classes=classes), scores, average="macro")
    metrics: dict[str, Any] = {"accuracy": proportion(int(np.trace(matrix)), n, methods)}
    samples = tuple(np.flatnonzero(y == name) for name in classes)
    if bootstrap:
        metrics["auroc"] = _bootstrap(samples, _macro_auroc_stat(scores), macro, methods, True)
    else:
        metrics["auroc"] = {"value": _clean(macro), "ci": None}
    metrics["auroc"]["average"] = "macro (one-vs-rest)"
    if not every:
        metrics["auroc"]["note"] = "undefined: a class has no case (or every case)"
    return {
        "n": n,
        "class_counts": {e["class"]: e["n_positive"] for e in per_class},
        "confusion_matrix": {
            "labels": list(classes),
            "matrix": [[int(v) for v in row] for row in matrix],
            "rows": "reference",
            "columns": "predicted",
        },
        "metrics": metrics,
        "per_class": per_class,
    }


def class_entry(entry: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    """The one-vs-rest entry of a class in a multiclass entry (None when absent)."""
    for item in entry.get("per_class") or []:
        if item.get("class") == name:
            return item
    return None
