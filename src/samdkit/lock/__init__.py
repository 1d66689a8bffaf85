"""`samdkit lock` / `verify-lock`: the model lock, its fingerprint, provenance and the reproducible rebuild."""
