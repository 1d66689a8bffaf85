"""CI glue: the pull-request comment, gate results and outputs, the pipeline status."""
