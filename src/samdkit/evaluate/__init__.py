"""`samdkit evaluate`: metrics with confidence intervals, acceptance criteria, the evaluation document."""
