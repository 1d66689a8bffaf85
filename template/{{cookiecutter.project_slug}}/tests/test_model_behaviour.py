"""Behavioural tests of the model: properties a clinician would expect, whatever the data."""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import log_loss, roc_auc_score

from {{ cookiecutter.package_name }}.model import class_index, probabilities


def test_outputs_are_probabilities_per_class(model, parts, features, data):
    result = probabilities(model, parts["test"], features)
    assert result.shape == (len(parts["test"]), len(data["classes"] or [0, 1]))
    assert np.all((result >= 0) & (result <= 1))
    np.testing.assert_allclose(result.sum(axis=1), 1.0)


def test_classes_are_the_declared_ones(model, data):
    if data["classes"] is None:
        assert len(model.classes_) == 2
        class_index(model.classes_, data["positive_label"])
    else:
        assert sorted(map(str, model.classes_)) == sorted(map(str, data["classes"]))


def test_invariant_to_column_order(model, parts, features):
    test = parts["test"]
    shuffled = test[list(reversed(test.columns))]
    np.testing.assert_array_equal(
        probabilities(model, test, features), probabilities(model, shuffled, features)
    )


def test_deterministic(model, parts, features):
    first = probabilities(model, parts["test"], features)
    second = probabilities(model, parts["test"], features)
    assert first.tobytes() == second.tobytes()


def test_missing_and_unseen_values_still_score(model, parts, features, data):
    """Imputation and one-hot encoding that ignores unseen values: a gap never stops scoring."""
    sample = parts["test"].head(5).copy()
    sample[data["numeric_features"]] = np.nan
    for column in data["categorical_features"]:
        sample[column] = "a value never seen in training"
    result = probabilities(model, sample, features)
    assert np.isfinite(result).all()


def test_learns_more_than_the_class_shares(model, parts, features, data):
    """On the training data the model beats a model that knows only the class shares."""
    train, label = parts["train"], data["label_column"]
    y = train[label].astype(str)
    prior = DummyClassifier(strategy="prior").fit(train[features], y)
    labels = sorted(y.unique())
    order = [class_index(model.classes_, c) for c in labels]
    fitted = probabilities(model, train, features)[:, order]
    assert log_loss(y, fitted, labels=labels) < log_loss(
        y, prior.predict_proba(train[features]), labels=labels
    )


def test_discriminates_on_held_out_data(model, parts, features, data):
    """Better than chance on the held-out split (acceptance criteria set the real bar)."""
    test = parts["test"]
    y = test[data["label_column"]].astype(str)
    proba = probabilities(model, test, features)
    if data["classes"] is None:
        positive = class_index(model.classes_, data["positive_label"])
        auroc = roc_auc_score(y == str(data["positive_label"]), proba[:, positive])
    else:
        labels = [str(c) for c in model.classes_]
        auroc = roc_auc_score(y, proba, multi_class="ovr", labels=labels)
    assert auroc > 0.5
