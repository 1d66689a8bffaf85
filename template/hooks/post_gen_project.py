"""Keep only the chosen CI platform's files and start the git repository DVC needs."""

import shutil
import subprocess
from pathlib import Path

PLATFORM = {{ cookiecutter.ci_platform | tojson }}

if PLATFORM == "gitlab":
    shutil.rmtree(".github")
if PLATFORM == "github":
    Path(".gitlab-ci.yml").unlink()

if shutil.which("git") and not Path(".git").exists():
    subprocess.run(["git", "init", "-q", "-b", "main"], check=False)
