"""Telemetry off by default: healthcare data and usage never leave the machine by accident."""

from __future__ import annotations

import os

PRIVACY_DEFAULTS: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "CODECARBON_LOG_LEVEL": "error",
    "GX_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
}


def apply_privacy_defaults(environ: dict[str, str] | None = None) -> None:
    """Set each privacy variable unless the user chose a value; never overrides an explicit choice."""
    env = os.environ if environ is None else environ
    for key, value in PRIVACY_DEFAULTS.items():
        env.setdefault(key, value)
