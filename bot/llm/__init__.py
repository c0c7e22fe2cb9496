"""The model client: OpenAI-compatible chat completions to vLLM replicas.

Entry points build an :class:`OpenAIClient` from :class:`LLMConfig` and pass it down as an
:class:`LLM`; prompts are laid out with :class:`PromptLayout` (stable prefix first, untrusted
text fenced) and trimmed with :func:`fit` using the served model's tokenizer.
"""

from bot.llm.budget import (
    Allowance,
    BudgetError,
    SchemaSizer,
    UnboundedSchemaError,
    sized_schema,
    sizer_for,
    worst_case_tokens,
)
from bot.llm.client import OpenAIClient
from bot.llm.config import LLMConfig
from bot.llm.errors import (
    AnswerCutOffError,
    LLMError,
    LLMRequestError,
    LLMUnavailableError,
    ModelOutputError,
    PromptTooLongError,
)
from bot.llm.fencing import derive_nonce, fence, new_nonce, system_rules
from bot.llm.layout import PromptLayout, Section, fit
from bot.llm.metrics import LLMMetrics
from bot.llm.protocol import LLM, Tokenizer
from bot.llm.tokenizer import LocalTokenizer, tokenizer_for
from bot.llm.types import (
    Completion,
    Message,
    StreamDone,
    StreamEvent,
    Structured,
    TextDelta,
    Usage,
)

__all__ = [
    "LLM",
    "Allowance",
    "AnswerCutOffError",
    "BudgetError",
    "Completion",
    "LLMConfig",
    "LLMError",
    "LLMMetrics",
    "LLMRequestError",
    "LLMUnavailableError",
    "LocalTokenizer",
    "Message",
    "ModelOutputError",
    "OpenAIClient",
    "PromptLayout",
    "PromptTooLongError",
    "SchemaSizer",
    "Section",
    "StreamDone",
    "StreamEvent",
    "Structured",
    "TextDelta",
    "Tokenizer",
    "UnboundedSchemaError",
    "Usage",
    "derive_nonce",
    "fence",
    "fit",
    "new_nonce",
    "sized_schema",
    "sizer_for",
    "system_rules",
    "tokenizer_for",
    "worst_case_tokens",
]
