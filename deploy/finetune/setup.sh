#!/usr/bin/env bash
# Add the fine-tuning packages to the model venv that deploy/cpu-model/setup.sh made.
#
#   deploy/finetune/setup.sh        # idempotent; run deploy/cpu-model/setup.sh first
#
# peft goes next to the venv's torch and transformers (it pulls nothing else in there).
set -euo pipefail

VLLM_HOME="${ASSIST_VLLM_HOME:-$HOME/.cache/forge-assist/vllm}"
VENV="$VLLM_HOME/venv"
PEFT_VERSION="0.21.2"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "no model venv at $VENV: run deploy/cpu-model/setup.sh first" >&2
  exit 1
fi
have="$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('peft'))" \
  2>/dev/null || true)"
if [[ "$have" != "$PEFT_VERSION" ]]; then
  echo "[finetune setup] installing peft==$PEFT_VERSION into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet "peft==$PEFT_VERSION"
fi
