"""{{ cookiecutter.project_name }}: {{ cookiecutter.organisation }}'s ML model, with its evidence built by samdkit."""

import os

# Telemetry off in every entry point: health data and usage never leave the machine by accident.
for _key, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "CODECARBON_LOG_LEVEL": "error",
}.items():
    os.environ.setdefault(_key, _value)
