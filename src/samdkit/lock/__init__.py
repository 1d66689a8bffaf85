"""`samdkit lock` / `verify-lock`: the model lock, its fingerprint, provenance and the reproducible rebuild.

Public API (what other packages and the generated project import; the rest is internal):
`samdkit.lock.schema` (read, parse, validate, write model.lock), `samdkit.lock.diff` (diff_locks,
model_changed, render: the PR comment), `samdkit.lock.rebuild` (read_result, describe, add_verify_flag,
run_verify_rebuild), `samdkit.lock.reproducible` (pin_numerics, normalise_model, for the template's
training). Submodules are imported on use: the CLI starts without them.
"""

__all__ = ["diff", "rebuild", "reproducible", "schema"]
