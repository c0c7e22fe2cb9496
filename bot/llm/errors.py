"""The one exception hierarchy of the model client."""

from __future__ import annotations


class LLMError(Exception):
    """Base of every error raised by ``bot.llm``."""


class LLMUnavailableError(LLMError):
    """No replica answered usefully within the retries (connection errors, timeouts, 429, 5xx).

    ``attempts`` counts the HTTP attempts made; ``last_status`` is the last HTTP status seen
    (``None`` when the last failure was a connection error or a timeout).
    """

    def __init__(self, message: str, *, attempts: int, last_status: int | None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_status = last_status


class LLMRequestError(LLMError):
    """The server refused the request itself (4xx other than 429): retrying cannot help."""

    def __init__(self, message: str, *, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ModelOutputError(LLMError):
    """The model's structured answer stayed invalid after the repair attempt."""

    def __init__(self, message: str, *, raw: str, problems: str) -> None:
        super().__init__(message)
        self.raw = raw
        self.problems = problems


class AnswerCutOffError(ModelOutputError):
    """The structured answer was cut at ``max_tokens`` before it was complete.

    ``tokens``: the completion tokens the server reported (the cut); ``max_tokens``: the
    allowance asked for. Ask again with a smaller allowance (``bot.llm.budget.Allowance``).
    """

    def __init__(
        self, message: str, *, raw: str, problems: str, tokens: int, max_tokens: int
    ) -> None:
        super().__init__(message, raw=raw, problems=problems)
        self.tokens = tokens
        self.max_tokens = max_tokens


class PromptTooLongError(LLMError):
    """The prompt cannot be trimmed to fit the model's context."""

    def __init__(self, message: str, *, tokens: int, budget: int) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.budget = budget
