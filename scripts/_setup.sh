# shellcheck shell=bash
# Shared, idempotent setup for scripts/test and scripts/serve (sourced, not run).
#
# On a fresh clone it creates .venv and installs the project into it; later
# runs reinstall only when pyproject.toml changed (editable installs pick up
# code changes by themselves), so repeated runs stay fast and offline.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 1

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# apt-get install as root (update once per run first); fails when not root.
_apt_updated=""
apt_install() {
  is_root && command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$_apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    _apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# Create/activate .venv and install the project with pip spec $1 ('.' or '.[dev]').
setup_python_env() {
  local spec="$1" python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    command -v "$python" >/dev/null 2>&1 || die "python3 (>= 3.11) is required but was not found"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || die "Python >= 3.11 is required; $python is $("$python" --version 2>&1)"
    log "creating .venv with $("$python" --version 2>&1)"
    if ! "$python" -m venv .venv; then
      # Debian's system python needs the python3-venv package for ensurepip.
      rm -rf .venv
      apt_install python3-venv || die "'$python -m venv' failed; install python3-venv"
      "$python" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate

  # Stamp = spec + hash of pyproject.toml; '.[dev]' also satisfies '.'.
  local hash stamp_dir=.venv/.claims-stamps
  hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  mkdir -p "$stamp_dir"
  local stamp_name="base"
  [ "$spec" = "." ] || stamp_name="dev"
  if [ -x .venv/bin/claims ] && { grep -qx "$hash" "$stamp_dir/$stamp_name" 2>/dev/null \
       || { [ "$stamp_name" = base ] && grep -qx "$hash" "$stamp_dir/dev" 2>/dev/null; }; }; then
    return 0
  fi
  log "pip install -e '$spec'"
  python -m pip install -q -e "$spec"
  printf '%s\n' "$hash" >"$stamp_dir/$stamp_name"
}

# The PostgreSQL tests need server binaries (initdb, postgres) unless the
# developer points CLAIMS_TEST_POSTGRES_URL at a server of their own.
ensure_postgres_server() {
  if [ -n "${CLAIMS_TEST_POSTGRES_URL:-}" ]; then
    log "PostgreSQL: using CLAIMS_TEST_POSTGRES_URL (no local server binaries needed)"
    return 0
  fi
  local bindir
  if bindir="$(python tests/pg_server.py --bindir 2>/dev/null)"; then
    log "PostgreSQL: server binaries in $bindir"
    return 0
  fi
  if is_root; then
    apt_install postgresql-15 || apt_install postgresql \
      || die "could not apt-get install the PostgreSQL server (postgresql-15)"
  else
    die "PostgreSQL 15 server binaries (initdb, postgres) are a prerequisite of the tests and were not found.
  Install them (Debian/Ubuntu: sudo apt-get install postgresql-15), or set CLAIMS_PG_BINDIR=/path/to/pg/bin,
  or set CLAIMS_TEST_POSTGRES_URL=postgresql://user:pass@host:port/postgres (a role that may CREATE DATABASE)."
  fi
  bindir="$(python tests/pg_server.py --bindir)" || die "PostgreSQL installed, but its binaries are still not found"
  log "PostgreSQL: server binaries in $bindir"
}

# JS dev dependencies (e.g. graphql-http for the GraphQL conformance test).
ensure_node_deps() {
  [ -f package.json ] || return 0
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || die "package.json needs npm (Node.js >= 18); install Node.js"
  fi
  local hash stamp=node_modules/.claims-stamp
  hash="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if grep -qx "$hash" "$stamp" 2>/dev/null; then
    return 0
  fi
  if [ -f package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund </dev/null
  else
    log "npm install"
    npm install --no-audit --no-fund </dev/null
  fi
  printf '%s\n' "$hash" >"$stamp"
}

# GraphiQL is served from packaged files, never a CDN: copy them out of node_modules.
ensure_graphiql_assets() {
  ensure_node_deps
  python -m api.web.assets >/dev/null
}

# The browser tests drive Debian's Chromium through Playwright (no browser download).
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  apt_install chromium || die "the browser tests need Chromium: install it (sudo apt-get install chromium)"
}
