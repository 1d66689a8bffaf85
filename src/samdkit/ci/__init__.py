"""CI glue: the pull-request comment, gate results and CI outputs, the pipeline status.

outputs (`samdkit gate`: each gate's record in the gate-result envelope under reports/gates/, GitHub step
outputs and summary, the GitLab dotenv report), comment (`samdkit comment`: the reviewer's table, built from
those records and the evidence read by its strict readers), pipeline_status (`samdkit pipeline-status`: is
dvc.lock what the pipeline produces?). No other package imports ci/.
"""

__all__: list[str] = []
