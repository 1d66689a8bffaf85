"""`samdkit report`: the clinical validation report and model card from the release evidence."""
