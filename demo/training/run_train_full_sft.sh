#!/usr/bin/env bash
# The demo's entry point, called the way TRAINING_COMMAND calls a team's own script:
#   bash run_train_full_sft.sh configs/demo_sft.yaml
# Python: $TRAIN_PYTHON, else the interpreter `manage.py install_demo` recorded in
# .python beside this script, else python3 from PATH.
set -euo pipefail
cd "$(dirname "$0")"
config="$(cd "$OLDPWD" && realpath -- "$1")"
python="${TRAIN_PYTHON:-}"
if [[ -z "$python" && -f .python ]]; then
  python="$(cat .python)"
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
exec "${python:-python3}" train_sft.py "$config"
