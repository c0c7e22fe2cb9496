"""Check the model server before work that needs it, and fit the defaults to what it serves.

Every command and job that needs the model calls :func:`check_model` first: it fails in
seconds, naming the URL and the reason (unreachable, an HTTP error, another model served),
instead of after minutes of indexing and retries. :func:`fit_settings` then derives the
settings the operator left at their defaults (concurrency, timeout, context) from what the
server reports (``/v1/models``: ``max_model_len``) and from the measured speed of a first,
tiny request: a CPU model answering 15 tokens/s gets one request at a time and a timeout long
enough for a full answer, instead of eight concurrent requests that all time out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from bot.llm.errors import LLMError

if TYPE_CHECKING:
    from bot.settings import Settings

CHECK_TIMEOUT_S = 5.0
"""Each probe request's limit: several URLs still fail well within ten seconds."""


class ModelCheckError(LLMError):
    """The model server cannot serve: ``url`` and ``reason`` say where and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the model server at {url} {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ServedModel:
    """What one server reports: the URL asked, the model names it serves and the context
    length of the configured one (None when the server does not say)."""

    url: str
    names: tuple[str, ...]
    max_model_len: int | None


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def probe_server(
    base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = CHECK_TIMEOUT_S
) -> ServedModel:
    """``GET {base_url}/models``; raises :class:`ModelCheckError` unless ``model`` is served."""
    url = base_url.rstrip("/")
    try:
        reply = httpx.get(f"{url}/models", headers=_headers(api_key), timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise ModelCheckError(url, f"did not answer within {timeout_s:g} s") from exc
    except httpx.TransportError as exc:
        raise ModelCheckError(url, f"is not reachable ({type(exc).__name__})") from exc
    if reply.status_code in (401, 403):
        raise ModelCheckError(
            url, f"refused our key (HTTP {reply.status_code}; ASSIST_LLM_API_KEY)"
        )
    if reply.status_code != 200:
        raise ModelCheckError(url, f"answered HTTP {reply.status_code} to GET /models")
    try:
        data: Any = reply.json()
        entries = [e for e in data["data"] if isinstance(e, dict)]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelCheckError(url, "answered GET /models with something else than a list") from exc
    names = tuple(str(e.get("id", "")) for e in entries)
    if model not in names:
        served = ", ".join(names) or "no model"
        raise ModelCheckError(url, f"serves {served}, not {model} (ASSIST_LLM_MODEL)")
    length = next((e.get("max_model_len") for e in entries if e.get("id") == model), None)
    return ServedModel(url, names, int(length) if isinstance(length, int) else None)


def check_model(settings: Settings, *, timeout_s: float = CHECK_TIMEOUT_S) -> ServedModel:
    """The first server of ``llm_base_urls`` that serves the configured model.

    Raises :class:`ModelCheckError` for the last failure when none does.
    """
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    failure: ModelCheckError | None = None
    deadline = time.monotonic() + 2 * timeout_s
    for base in settings.llm_base_urls:
        left = deadline - time.monotonic()
        if left <= 0.5:
            break
        try:
            return probe_server(
                base, settings.llm_model, api_key=key, timeout_s=min(timeout_s, left)
            )
        except ModelCheckError as exc:
            failure = exc
    if failure is None:
        failure = ModelCheckError(",".join(settings.llm_base_urls), "was not reached in time")
    raise failure


def measure_speed(
    settings: Settings, served: ServedModel, *, timeout_s: float = 30.0, tokens: int = 16
) -> float | None:
    """Completion tokens per second of one tiny request (None when it cannot be measured)."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    body = {
        "model": settings.llm_model,
        "prompt": "1, 2, 3, 4,",
        "max_tokens": tokens,
        "min_tokens": tokens,
        "temperature": 0,
    }
    began = time.monotonic()
    try:
        reply = httpx.post(
            f"{served.url}/completions", json=body, headers=_headers(key), timeout=timeout_s
        )
        reply.raise_for_status()
        used = int(reply.json()["usage"]["completion_tokens"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    elapsed = time.monotonic() - began
    return used / elapsed if used > 0 and elapsed > 0 else None


ANSWER_TOKENS = 768
"""The largest answer a review request asks for (bot.review.pipeline's default)."""


def fitted_values(
    settings: Settings, served: ServedModel, tokens_per_s: float | None
) -> dict[str, Any]:
    """Settings left at their defaults, fitted to the server: what to change and to what.

    - context: the served ``max_model_len`` when the setting is larger (a prompt sized for
      the setting would be refused);
    - concurrency: about one request per 25 tokens/s of measured speed (a CPU model serving
      15 tokens/s gets one at a time: parallel requests only make each slower);
    - timeout: long enough for a full answer and a full prompt at the measured speed, with
      half again as margin (never below the default).
    """
    explicit = settings.model_fields_set
    values: dict[str, Any] = {}
    context = settings.llm_context_tokens
    if served.max_model_len and served.max_model_len < context:
        context = served.max_model_len
        values["llm_context_tokens"] = context
    if tokens_per_s:
        if "llm_max_concurrency" not in explicit:
            values["llm_max_concurrency"] = max(
                1, min(settings.llm_max_concurrency, int(tokens_per_s // 25))
            )
        if "llm_timeout_s" not in explicit:
            # Prefill is roughly ten times faster than decoding; measured worst case plus half.
            need = 1.5 * (ANSWER_TOKENS / tokens_per_s + context / (10 * tokens_per_s))
            if need > settings.llm_timeout_s:
                values["llm_timeout_s"] = round(need)
    return values


def fit_settings(
    settings: Settings, served: ServedModel, tokens_per_s: float | None
) -> tuple[Settings, dict[str, Any]]:
    """``settings`` with :func:`fitted_values` applied, and those values (to report)."""
    values = fitted_values(settings, served, tokens_per_s)
    return (settings.model_copy(update=values) if values else settings), values


def describe_fit(served: ServedModel, tokens_per_s: float | None, values: dict[str, Any]) -> str:
    """One line for the operator: what the server is and what was fitted."""
    speed = f", {tokens_per_s:.0f} tokens/s" if tokens_per_s else ""
    length = f", context {served.max_model_len}" if served.max_model_len else ""
    fitted = ", ".join(f"{k.removeprefix('llm_')}={v}" for k, v in sorted(values.items()))
    name = served.names[0] if len(served.names) == 1 else "the configured model"
    return f"model {name} at {served.url}{length}{speed}" + (f"; using {fitted}" if fitted else "")
