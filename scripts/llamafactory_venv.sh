#!/usr/bin/env bash
# A virtual environment holding the real, unmodified LLaMA-Factory of requirements-llamafactory.txt,
# for the tests that train with it (runs/tests/test_llamafactory.py). Prints its path.
#
#   scripts/llamafactory_venv.sh [FOLDER]      default: $LLAMAFACTORY_VENV, else <repo>/var/llamafactory-venv
#
# Its pins conflict with requirements-trainer.txt's, hence an environment of its own. It is
# built once and reused while requirements-llamafactory.txt is unchanged (its SHA-256 is kept
# beside it); the file pins every package, so pip installs them without resolving (--no-deps):
# a resolver would follow LLaMA-Factory's own requirements to gradio, torchaudio and a CUDA torch.
# Python 3.11: torch 2.13.0's CPU wheel for it lies on these machines' disk.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-${LLAMAFACTORY_VENV:-$PWD/var/llamafactory-venv}}
requirements=$PWD/requirements-llamafactory.txt
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock" # two test sessions at once build it once
flock 9
if [ -x "$venv/bin/llamafactory-cli" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$wanted" ]; then
    echo "$venv"
    exit 0
fi
python=$(command -v python3.11 || command -v python3)
rm -rf "$venv"
started=$SECONDS
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --no-deps -r "$requirements" >&2
# The stand-in for torchaudio (see requirements-llamafactory.txt).
cp -r scripts/stubs/torchaudio "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/"
echo "$wanted" >"$venv/.requirements.sha256"
echo "==> built $venv in $((SECONDS - started)) s" >&2
echo "$venv"
