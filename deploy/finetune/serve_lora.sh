#!/usr/bin/env bash
# Serve the base model with a LoRA adapter from train_lora.py (CPU build; see README.md for
# the GPU flags). Requests name the adapter as their model: "model": "$NAME".
#
#   deploy/finetune/serve_lora.sh ADAPTER_DIR [--name review-lora] [--port 8000] [--rank 16]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ADAPTER="${1:?usage: serve_lora.sh ADAPTER_DIR [--name N] [--port P] [--rank R]}"
shift
NAME=review-lora
PORT=8000
RANK=16
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) NAME="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --rank) RANK="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

exec bash "$HERE/../cpu-model/serve.sh" --port "$PORT" -- \
  --enable-lora --lora-modules "$NAME=$ADAPTER" --max-lora-rank "$RANK" --max-loras 1
