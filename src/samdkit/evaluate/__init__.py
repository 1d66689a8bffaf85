"""`samdkit evaluate`: metrics with confidence intervals, acceptance criteria, the evaluation document.

command (the CLI) -> predictions (reports/predictions.csv read and checked) -> compute (metrics of the test set
and of each subgroup, from metrics, judged by criteria) -> document (reports/evaluation.json, the one strict
reader/writer) and tracking (MLflow). Other packages use only `document` and the criteria engine.
"""

__all__ = ["criteria", "document"]
