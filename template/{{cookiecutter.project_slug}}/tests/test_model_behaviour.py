"""Behavioural tests of the model: properties a clinician would expect, whatever the metrics say."""

from __future__ import annotations

import numpy as np

from {{ cookiecutter.package_name }}.model import scores


def test_scores_are_probabilities(model, parts, features):
    result = scores(model, parts["test"], features)
    assert result.shape == (len(parts["test"]),)
    assert np.all((result >= 0) & (result <= 1))


def test_invariant_to_column_order(model, parts, features):
    test = parts["test"]
    shuffled = test[list(reversed(test.columns))]
    np.testing.assert_array_equal(scores(model, test, features), scores(model, shuffled, features))


def test_deterministic(model, parts, features):
    first = scores(model, parts["test"], features)
    second = scores(model, parts["test"], features)
    assert first.tobytes() == second.tobytes()


def test_typical_malignant_scores_above_typical_benign(model, parts, features, params):
    train, label = parts["train"], params["data"]["label_column"]
    typical = train.groupby(label)[features].median()
    result = scores(model, typical.reset_index(drop=True), features)
    assert result[1] > 0.9 > 0.1 > result[0]


def test_larger_worst_lesion_does_not_lower_risk(model, parts, features):
    """Monotone expectation on the strongest size marker, holding the rest of the sample fixed."""
    sample = parts["test"].head(20).copy()
    base = scores(model, sample, features)
    sample["worst_area"] = sample["worst_area"] * 1.5
    assert np.all(scores(model, sample, features) >= base - 1e-9)


def test_discriminates_on_held_out_data(model, parts, features, params):
    from sklearn.metrics import roc_auc_score

    test = parts["test"]
    assert roc_auc_score(test[params["data"]["label_column"]], scores(model, test, features)) > 0.9
