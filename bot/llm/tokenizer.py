"""The served model's tokenizer from its own ``tokenizer.json``, when the files are local.

Use it instead of vLLM's /tokenize to save round trips when the model directory is at hand
(``LLMConfig.tokenizer_path``). The chat template is not rendered here: ``count_chat`` counts
the ChatML frame (``<|im_start|>ROLE\n ... <|im_end|>\n`` per message, then
``<|im_start|>assistant\n``), which SmolLM2, Qwen and many others use; it matches vLLM's
/tokenize exactly for SmolLM2 when the first message is a system message. For a model with
another template, pass ``frame_tokens`` (tokens around each message besides the role) and
``generation_prompt_tokens``, or count with vLLM's /tokenize instead.

Counting is the cost of fitting prompts (``bot.llm.layout.fit``): ids come from
``encode_batch_fast`` (no character offsets computed), and the counts of recent message texts
are remembered, so the system message every prompt of a job shares (instructions, rules, the
answer's schema) is tokenised once, not once per file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

from bot.llm.config import LLMConfig
from bot.llm.protocol import Tokenizer
from bot.llm.types import Message

MEMO_ENTRIES = 64  # message texts whose counts are remembered (least recently used out)
MEMO_MAX_CHARS = 64 * 1024  # longer texts are counted each time (memory stays small)


class LocalTokenizer:
    """Implements :class:`bot.llm.protocol.Tokenizer`; the file is read on first use."""

    def __init__(
        self,
        path: Path,
        *,
        frame_tokens: int = 4,
        generation_prompt_tokens: int | None = None,
    ) -> None:
        self._path = path / "tokenizer.json" if path.suffix != ".json" else path
        self._frame = frame_tokens
        self._generation_prompt = generation_prompt_tokens
        self._tokenizer: HFTokenizer | None = None
        self._counts: OrderedDict[str, int] = OrderedDict()

    def _loaded(self) -> HFTokenizer:
        if self._tokenizer is None:
            self._tokenizer = HFTokenizer.from_file(str(self._path))
        return self._tokenizer

    def _ids(self, text: str) -> list[int]:
        tokenizer = self._loaded()
        fast = getattr(tokenizer, "encode_batch_fast", None)  # tokenizers >= 0.20
        if fast is not None:
            return list(fast([text], add_special_tokens=False)[0].ids)
        return list(tokenizer.encode(text, add_special_tokens=False).ids)

    def _count(self, text: str) -> int:
        if len(text) > MEMO_MAX_CHARS:
            return len(self._ids(text))
        count = self._counts.get(text)
        if count is None:
            count = self._counts[text] = len(self._ids(text))
            if len(self._counts) > MEMO_ENTRIES:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(text)
        return count

    async def encode(self, text: str) -> list[int]:
        return self._ids(text)

    async def decode(self, tokens: Sequence[int]) -> str:
        return str(self._loaded().decode(list(tokens), skip_special_tokens=False))

    async def count_chat(self, messages: Sequence[Message]) -> int:
        count = self._count
        total = sum(
            count(message.role) + count(message.content) + self._frame for message in messages
        )
        if self._generation_prompt is None:
            return total + count("assistant") + self._frame - 2
        return total + self._generation_prompt


def tokenizer_for(config: LLMConfig, served: Tokenizer) -> Tokenizer:
    """The local tokenizer files when configured, else the server's own (``served``)."""
    if config.tokenizer_path is not None:
        return LocalTokenizer(config.tokenizer_path)
    return served
