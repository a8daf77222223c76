#!/usr/bin/env bash
# make setup: both virtualenvs, database, seed content, trained Rasa model.
#
# Expensive things (the two venvs, the trained model) are cached outside the clone in
# $LOTSE_CACHE (default ~/.cache/kim-lotse), keyed by a hash of what they are built from, and linked into
# the clone. A second run, or a fresh clone on the same machine, reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${LOTSE_CACHE:-$HOME/.cache/kim-lotse}
mkdir -p "$CACHE" var

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- find interpreters --------------------------------------------------------------------------
find_python() {  # $1 = minor version, e.g. 3.10
  local v=$1 c
  for c in "${LOTSE_PYTHON:-}" "$(command -v "python$v" 2>/dev/null || true)" \
           "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$v".*/bin/python \
           "$HOME"/.pyenv/versions/"$v".*/bin/python /root/.pyenv/versions/"$v".*/bin/python \
           /usr/bin/python"$v" /usr/local/bin/python"$v"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$v' else 1)" 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

PY_RASA=$(LOTSE_PYTHON=${LOTSE_PYTHON310:-} find_python 3.10) || die "Rasa 3.6 needs Python 3.10, and none was found.
  Install it (e.g. 'pyenv install 3.10.13' or your distribution's python3.10 package) or point
  LOTSE_PYTHON310 at its interpreter, then run 'make setup' again."
PY_APP=$(LOTSE_PYTHON=${LOTSE_PYTHON311:-} find_python 3.11) || die "The app needs Python 3.11, and none was found.
  Install it or point LOTSE_PYTHON311 at its interpreter, then run 'make setup' again."
log "Python for Rasa: $PY_RASA"
log "Python for the app: $PY_APP"

# --- venvs --------------------------------------------------------------------------------------
make_venv() {  # $1 link name, $2 python, $3 cache key, $4 install function
  local link=$1 py=$2 key=$3 fn=$4 dir="$CACHE/$1-$3"
  if [ ! -f "$dir/.complete" ]; then
    log "creating $link in $dir (first time only)"
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade "pip==26.3"
    "$fn" "$dir"
    touch "$dir/.complete"
  else
    log "$link: cached ($dir)"
  fi
  ln -sfn "$dir" "$ROOT/$link"
}

# Both environments get exactly their locked set: every package pinned with its hashes, nothing
# resolved (--no-deps). The lock holds setuptools<70 for Rasa 3.6 (it imports pkg_resources), and
# argostranslate without stanza, spaCy and torch (the app runs the models with CTranslate2 itself).
install_rasa() {
  "$1/bin/pip" install -q --no-deps --require-hashes -r requirements/rasa.lock
}
install_app() {
  "$1/bin/pip" install -q --no-deps --require-hashes -r requirements/app.lock -r requirements/dev.lock
}

make_venv .venv-rasa "$PY_RASA" "$(hash_of requirements/rasa.lock)-py$("$PY_RASA" -c 'import sys;print(sys.version_info[1])')" install_rasa
make_venv .venv "$PY_APP" "$(hash_of requirements/app.lock requirements/dev.lock)-py$("$PY_APP" -c 'import sys;print(sys.version_info[1])')" install_app
# The project itself: editable, without touching the pinned dependencies (gives the 'lotse' command).
.venv/bin/pip install -q --no-deps --no-build-isolation -e . 2>/dev/null \
  || .venv/bin/pip install -q --no-deps -e .

# --- Chromium for the browser tests -----------------------------------------------------------------
# Playwright drives Debian's chromium package (executable_path); it never downloads a browser.
if [ -n "${LOTSE_CHROMIUM:-}" ] && [ -x "$LOTSE_CHROMIUM" ]; then
  log "Chromium: $LOTSE_CHROMIUM"
elif command -v chromium >/dev/null 2>&1; then
  log "Chromium: $(command -v chromium)"
elif command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then
  log "installing Debian's chromium package (the browser tests drive it)"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || die "chromium was installed but is not on PATH"
else
  die "The browser tests need Chromium, and it is not installed.
  On Debian/Ubuntu: 'sudo apt-get install chromium'; elsewhere install Chromium and point
  LOTSE_CHROMIUM at its executable, then run 'make setup' again."
fi

# --- database and content -----------------------------------------------------------------------
export PYTHONPATH=$ROOT
log "migrating the database"
.venv/bin/python -m cli db upgrade
log "loading seed content"
.venv/bin/python -m cli seed

# --- Rasa model ---------------------------------------------------------------------------------
# The key covers everything training reads, so the model is retrained exactly when nlu/ changed.
MODEL_KEY=$(find nlu/config.yml nlu/domain nlu/data requirements/rasa.lock -type f -print0 | sort -z \
            | xargs -0 sha256sum | sha256sum | cut -c1-16)
MODEL="$CACHE/models/lotse-$MODEL_KEY.tar.gz"
mkdir -p "$CACHE/models" var/models
if [ ! -f "$MODEL" ]; then
  log "training the Rasa model (nlu/ changed since the last training; takes a few minutes)"
  tmp=$(mktemp -d "$CACHE/models/train.XXXXXX")
  # TensorFlow would use one core by default; training is the slowest step of a fresh setup.
  (cd nlu && TF_INTRA_OP_PARALLELISM_THREADS=$(nproc) TF_INTER_OP_PARALLELISM_THREADS=2 \
      RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 "$ROOT/.venv-rasa/bin/rasa" train --config config.yml --domain domain --data data \
      --out "$tmp" --fixed-model-name lotse --quiet)
  mv "$tmp/lotse.tar.gz" "$MODEL"
  rm -rf "$tmp"
else
  log "Rasa model: cached ($MODEL)"
fi
ln -sfn "$MODEL" var/models/lotse.tar.gz
log "done. 'make run' starts the bot; 'make test' runs the tests."
