"""Train a LoRA adapter on the review model from `assist export feedback --format sft` JSONL.

Runs in the model venv (torch + transformers + peft; deploy/finetune/setup.sh), not the
project's. Each example is a chat: the review prompt and, as the last assistant message, the
answer to learn; the loss is on the answer's tokens only. Saves a PEFT adapter folder that vLLM
loads with --enable-lora --lora-modules NAME=FOLDER.

    python deploy/finetune/train_lora.py --model MODEL_DIR --data sft.jsonl --out adapter/ \
        [--steps 200] [--lr 2e-4] [--rank 16] [--alpha 32] [--max-length 2048] \
        [--device cuda] [--bf16] [--load-4bit]   # GPU; --load-4bit is QLoRA (bitsandbytes)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def examples(path: Path) -> list[list[dict[str, str]]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        messages = json.loads(line).get("messages")
        if not messages or messages[-1].get("role") != "assistant":
            sys.exit(f"{path}:{number}: needs messages ending with the assistant's answer")
        out.append(messages)
    if not out:
        sys.exit(f"{path}: no examples")
    return out


def encode(tokenizer, messages, max_length: int) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Token ids and labels (-100 on the prompt: only the answer is learnt)."""
    prompt = tokenizer.apply_chat_template(
        messages[:-1], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    full = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
    if hasattr(prompt, "input_ids"):
        prompt, full = prompt["input_ids"], full["input_ids"]
    prompt, full = list(prompt), list(full)
    labels = [-100] * len(prompt) + full[len(prompt) :]
    if len(full) > max_length:  # keep the answer: cut the prompt's start
        cut = len(full) - max_length
        full, labels = full[cut:], labels[cut:]
    return full, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=int, default=32)
    parser.add_argument("--dropout", type=float, default=0.05)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 weights (GPU)")
    parser.add_argument("--load-4bit", action="store_true", help="QLoRA: 4-bit base (GPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    kwargs: dict[str, object] = {"dtype": torch.bfloat16 if args.bf16 else torch.float32}
    if args.load_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4"
        )
    model = AutoModelForCausalLM.from_pretrained(args.model, **kwargs)
    if not args.load_4bit:
        model.to(args.device)
    config = LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=args.dropout,
        target_modules=TARGETS,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    model.print_trainable_parameters()
    data = [encode(tokenizer, m, args.max_length) for m in examples(args.data)]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    model.train()
    started = time.monotonic()
    for step in range(1, args.steps + 1):
        ids, labels = data[(step - 1) % len(data)]
        if (step - 1) % len(data) == 0:
            random.shuffle(data)
        batch = torch.tensor([ids], device=model.device)
        out = model(input_ids=batch, labels=torch.tensor([labels], device=model.device))
        out.loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        say(f"step {step}/{args.steps} loss {out.loss.item():.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    say(f"adapter saved to {args.out} ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
