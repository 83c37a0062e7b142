# Sourced by scripts/start and scripts/test: the repository's virtual environment.
#
#   ensure_venv REQUIREMENTS_FILE...   create $VENV (default: <repo>/.venv) with Python 3.11
#                                      if missing, then pip install the files into it.
# Afterwards $PY is its python. Set VENV to use another environment.

VENV=${VENV:-$PWD/.venv}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        local python
        python=$(command -v python3.11 || command -v python3) || {
            echo "Python 3.11 is needed (apt-get install python3 python3-venv)." >&2
            return 1
        }
        echo "==> creating $VENV with $("$python" --version)"
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            # Debian ships venv separately.
            if [ "$(id -u)" = 0 ]; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv && "$python" -m venv "$VENV"
            else
                echo "python3 -m venv failed: install python3-venv (as root: apt-get install python3-venv)." >&2
                return 1
            fi
        fi
    fi
    local args=()
    for requirements in "$@"; do args+=(-r "$requirements"); done
    echo "==> pip install ${args[*]} into $VENV"
    "$VENV/bin/python" -m pip install -q "${args[@]}"
    PY="$VENV/bin/python"
}
