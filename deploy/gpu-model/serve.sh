#!/usr/bin/env bash
# Serve a real coding model with vLLM on NVIDIA GPUs (see README.md beside this file).
#
#   deploy/gpu-model/serve.sh                       # defaults below
#   ASSIST_GPU_MODEL=Qwen/Qwen2.5-Coder-7B-Instruct ASSIST_GPU_TP=1 deploy/gpu-model/serve.sh
#   deploy/gpu-model/serve.sh -- --max-num-seqs 128 # extra vLLM flags after --
#
# Environment (all optional):
#   ASSIST_GPU_VENV        venv with the CUDA build of vllm (default $HOME/.cache/forge-assist/vllm-gpu)
#   ASSIST_GPU_MODEL       HF id or local directory (default Qwen/Qwen2.5-Coder-32B-Instruct-AWQ)
#   ASSIST_GPU_NAME        served model name = ASSIST_LLM_MODEL of the bot (default qwen2.5-coder-32b)
#   ASSIST_GPU_TP          tensor-parallel size = number of GPUs (default: all visible GPUs)
#   ASSIST_GPU_MAX_LEN     max model length in tokens = ASSIST_LLM_CONTEXT_TOKENS (default 32768)
#   ASSIST_GPU_MEM         fraction of GPU memory for weights + KV cache (default 0.92)
#   ASSIST_GPU_MAX_SEQS    sequences batched at once (default 64)
#   ASSIST_GPU_HOST/PORT   bind address (default 0.0.0.0:8000)
#   ASSIST_GPU_API_KEY     if set, clients must send it as a bearer token (= ASSIST_LLM_API_KEY)
set -euo pipefail

VENV="${ASSIST_GPU_VENV:-$HOME/.cache/forge-assist/vllm-gpu}"
MODEL="${ASSIST_GPU_MODEL:-Qwen/Qwen2.5-Coder-32B-Instruct-AWQ}"
NAME="${ASSIST_GPU_NAME:-qwen2.5-coder-32b}"
if [[ -z "${ASSIST_GPU_TP:-}" ]]; then
  ASSIST_GPU_TP="$(nvidia-smi --list-gpus 2>/dev/null | wc -l)"
  [[ "$ASSIST_GPU_TP" -ge 1 ]] || ASSIST_GPU_TP=1
fi
MAX_LEN="${ASSIST_GPU_MAX_LEN:-32768}"
MEM="${ASSIST_GPU_MEM:-0.92}"
MAX_SEQS="${ASSIST_GPU_MAX_SEQS:-64}"
HOST="${ASSIST_GPU_HOST:-0.0.0.0}"
PORT="${ASSIST_GPU_PORT:-8000}"

if [[ "${1:-}" == "--" ]]; then shift; fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "no vLLM venv at $VENV; create it with:" >&2
  echo "  python3.11 -m venv $VENV && $VENV/bin/pip install 'vllm==0.32.*'" >&2
  exit 1
fi

args=(
  --model "$MODEL"
  --served-model-name "$NAME"
  --host "$HOST" --port "$PORT"
  # Split the weights over the GPUs of this node (1, 2, 4 or 8; must divide the head count).
  --tensor-parallel-size "$ASSIST_GPU_TP"
  # The context the bot budgets against (ASSIST_LLM_CONTEXT_TOKENS must not exceed it).
  --max-model-len "$MAX_LEN"
  --gpu-memory-utilization "$MEM"
  --max-num-seqs "$MAX_SEQS"
  # Reuse the KV cache of the shared prompt prefix (system prompt + repository context) across
  # all files and commits of a review; report hits per request for the bot's accounting.
  --enable-prefix-caching
  --enable-prompt-tokens-details
  # Long prompts are prefilled in chunks, interleaved with decoding of other requests.
  --enable-chunked-prefill
  # JSON-schema constrained decoding for response_format=json_schema (the bot's answers).
  --structured-outputs-config '{"backend": "xgrammar", "disable_any_whitespace": true}'
  # Sampling defaults come from the bot's requests, not from the model's generation_config.
  --generation-config vllm
)
if [[ -n "${ASSIST_GPU_API_KEY:-}" ]]; then
  args+=(--api-key "$ASSIST_GPU_API_KEY")
fi

export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
exec "$VENV/bin/python" -m vllm.entrypoints.openai.api_server "${args[@]}" "$@"
