"""What every command shares and nothing else of samdkit imports into it.

errors (UserError, exit 2), project (the paths table, rel(), validated settings), settings (every
[tool.samdkit.*] key), params (params.yaml and the decision threshold), findings (the gate-result
envelope), atomic (atomic writes, the one stable-JSON text), digests (the only SHA-256), gitinfo (the one
git runner), options (--format), bounded (size-capped YAML/JSON), fields (evidence field checks),
escape, parallel, privacy. Submodules are imported on use.
"""

__all__ = [
    "atomic",
    "bounded",
    "digests",
    "errors",
    "escape",
    "fields",
    "findings",
    "gitinfo",
    "options",
    "parallel",
    "params",
    "privacy",
    "project",
    "settings",
]
