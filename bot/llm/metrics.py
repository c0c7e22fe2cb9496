"""Prometheus metrics of model calls. Registered on the registry the entry point passes in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.llm.types import Usage

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class LLMMetrics:
    """Counters and a latency histogram, labelled by served model and call kind.

    Build one per process (``LLMMetrics(prometheus_client.REGISTRY)`` in the entry point) and
    hand it to every client; tests give each their own ``CollectorRegistry``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("model", "kind")
        self.requests = Counter(
            "assist_llm_requests",
            "Model calls, by outcome (ok, failed, invalid_output).",
            (*labels, "outcome"),
            registry=registry,
        )
        self.retries = Counter(
            "assist_llm_retries", "HTTP attempts retried.", labels, registry=registry
        )
        self.repairs = Counter(
            "assist_llm_repairs",
            "Structured answers that needed the repair attempt.",
            labels,
            registry=registry,
        )
        self.tokens = Counter(
            "assist_llm_tokens",
            "Tokens by type: prompt, completion, cached_prompt (served from the prefix cache).",
            (*labels, "type"),
            registry=registry,
        )
        self.latency = Histogram(
            "assist_llm_call_seconds",
            "Wall time of one model call, retries included.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def record(self, model: str, kind: str, usage: Usage, *, outcome: str) -> None:
        self.requests.labels(model, kind, outcome).inc()
        if usage.retries:
            self.retries.labels(model, kind).inc(usage.retries)
        if usage.repairs:
            self.repairs.labels(model, kind).inc(usage.repairs)
        for name, value in (
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
            ("cached_prompt", usage.cached_prompt_tokens),
        ):
            if value:
                self.tokens.labels(model, kind, name).inc(value)
        if usage.requests:  # an invalid structured answer is recorded without a new call
            self.latency.labels(model, kind).observe(usage.latency_s)
