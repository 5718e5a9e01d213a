# Shared set-up for scripts/run and scripts/test (POSIX sh). Idempotent.
set -eu

ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
VENV="$ROOT/.venv"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_install() {
    # apt_install PKG...: install the Debian packages that are missing.
    missing=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    echo "installing Debian packages:$missing" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

ensure_venv() {
    # ensure_venv [EXTRAS]: a virtual environment in .venv with the project installed (editable).
    extras=${1:-}
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    stamp="$VENV/.installed-$extras"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        echo "setting up the Python environment in $VENV (first run takes a minute)" >&2
        target="$ROOT"
        [ -n "$extras" ] && target="$ROOT[$extras]"
        if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
               && "$VENV/bin/python" -m pip install -q -e "$target"; } >"$VENV/pip.log" 2>&1; then
            cat "$VENV/pip.log" >&2
            echo "pip install failed (log above, also in $VENV/pip.log)" >&2
            return 1
        fi
        touch "$stamp"
    fi
}
