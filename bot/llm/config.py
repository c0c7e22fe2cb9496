"""The model client's configuration: a frozen value built from ``Settings`` in entry points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """How to reach the model and how hard to try.

    ``timeout_s`` bounds each HTTP attempt; ``max_retries`` counts attempts after the first
    (each may go to another replica); backoff is exponential from ``backoff_base_s`` up to
    ``backoff_max_s``, and a server's ``Retry-After`` is honoured up to ``backoff_max_s``.
    A failing replica is left out for ``cooldown_s``, doubling per consecutive failure.
    """

    base_urls: tuple[str, ...]
    model: str
    api_key: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 3
    max_concurrency: int = 8
    context_tokens: int = 2048
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    cooldown_s: float = 2.0
    max_cooldown_s: float = 60.0
    tokenizer_path: Path | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise ValueError("LLMConfig needs at least one base URL")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        object.__setattr__(self, "base_urls", tuple(url.rstrip("/") for url in self.base_urls))

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        """The configuration from ``Settings``."""
        key = settings.llm_api_key
        return cls(
            base_urls=tuple(settings.llm_base_urls),
            model=settings.llm_model,
            api_key=key.get_secret_value() if key is not None else None,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            max_concurrency=settings.llm_max_concurrency,
            context_tokens=settings.llm_context_tokens,
            tokenizer_path=settings.llm_tokenizer_path,
            backoff_base_s=settings.llm_backoff_base_s,
            backoff_max_s=settings.llm_backoff_max_s,
            cooldown_s=settings.llm_cooldown_s,
            seed=settings.llm_seed,
        )


def server_root(base_url: str) -> str:
    """vLLM serves /tokenize, /detokenize, /health and /metrics beside /v1, not under it."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
