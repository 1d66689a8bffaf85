# Shared by scripts/demo and scripts/test: visible, timed steps; apt packages; uv; one virtual environment.
# shellcheck shell=bash

APT_PACKAGES=(git libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils rsync)
# wanted, not required: weasyprint subsets fonts with HarfBuzz when present (its fontTools fallback is
# slower by ~0.4 s a report and deprecated)
APT_OPTIONAL=(libharfbuzz-subset0)

step() {  # step "what runs" command args...  -> prints the step and how long it took
  local label=$1 start=$SECONDS
  shift
  printf '\n==> %s\n' "$label"
  if "$@"; then
    printf '    done in %ss\n' "$((SECONDS - start))"
  else
    local rc=$?
    printf '    FAILED after %ss (exit %s): %s\n' "$((SECONDS - start))" "$rc" "$label" >&2
    return "$rc"
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

ensure_optional_apt_packages() {  # best effort: a machine without them still works, only slower
  ensure_apt_packages "${APT_OPTIONAL[@]}" 2>/dev/null || echo "    optional packages not installed: ${APT_OPTIONAL[*]}"
}

ensure_apt_packages() {  # installs what is missing when it can, else prints the exact apt line
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && { echo "    apt packages present"; return 0; }
  echo "    installing: ${missing[*]}"
  if ! { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "error: missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
}

ensure_uv() {  # sets UV: uv on PATH, else a private copy in .tools/ (pip in a venv; Debian's pip is managed)
  if command -v uv >/dev/null; then UV=$(command -v uv); return 0; fi
  if [ ! -x .tools/bin/uv ]; then
    if ! python3 -m venv .tools >/dev/null 2>&1; then
      rm -rf .tools
      ensure_apt_packages python3-venv
      python3 -m venv .tools
    fi
    .tools/bin/python -m pip install -q uv
  fi
  UV=$PWD/.tools/bin/uv
}

ensure_venv() {  # ensure_venv DIR SPEC...  -> a Python 3.11+ venv at DIR with SPEC installed by uv
  local dir=$1 marker=$1/.bytecode-compiled
  shift
  if [ ! -x "$dir/bin/python" ]; then
    "$UV" venv -q --python "${SAMDKIT_PYTHON:-3.11}" "$dir"
    touch "$marker"  # everything in it will come from the install below, compiled by uv
  fi
  # compiled up front: imports stay fast even where PYTHONDONTWRITEBYTECODE forbids caching them later
  "$UV" pip install -q --compile-bytecode --python "$dir/bin/python" "$@"
  if [ ! -e "$marker" ]; then  # a venv from before: uv compiled only what it installed just now
    "$dir/bin/python" -m compileall -q -j 0 \
      "$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null 2>&1 || true
    touch "$marker"
  fi
}

export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true DVC_NO_ANALYTICS=1 CODECARBON_LOG_LEVEL=error
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

ensure_gitlab_ci_local() {  # gitlab-ci-local 4.73.0 (the last for Node 20) into .tools/npm; act comes from the dev extra
  [ -x .tools/npm/bin/gitlab-ci-local ] && return 0
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then ensure_apt_packages nodejs npm; fi
  npm install --silent --prefix .tools/npm -g gitlab-ci-local@4.73.0
}
