"""Keep only the chosen CI platform's files, start the git repository DVC needs, say what to run first."""

import shutil
import subprocess
import sys
from pathlib import Path

PLATFORM = {{ cookiecutter.ci_platform | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}

if PLATFORM == "gitlab":
    shutil.rmtree(".github")
if PLATFORM == "github":
    Path(".gitlab-ci.yml").unlink()

if shutil.which("git") and not Path(".git").exists():
    subprocess.run(["git", "init", "-q", "-b", "main"], check=False)

# the first commit is the team's (its author and message are theirs); the report names the commit it was
# built from, so this is what to run before the first `dvc repro` (stderr: stdout is the project path)
print(
    f"next: cd {SLUG} && git add -A && git commit -m 'scaffold from samdkit' && "
    'python -m pip install -e ".[dev]" && dvc repro  (own data: README.md, "Use your own data")',
    file=sys.stderr,
)
