"""Every structured request's schema has a longest valid answer that fits its token budget,
counted with the served model's own tokenizer (SmolLM2's tokenizer.json, as CI installs it)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from bot.fix.answers import EditAnswer, LocateAnswer, edit_allowance, locate_allowance
from bot.fix.pipeline import FixOptions
from bot.llm import (
    Allowance,
    BudgetError,
    LocalTokenizer,
    SchemaSizer,
    UnboundedSchemaError,
    worst_case_tokens,
)
from bot.review.findings import FindingsAnswer
from bot.review.pipeline import DEFAULT_ANSWER_TOKENS, review_allowances
from bot.review.scoring import ScoresAnswer, score_schema
from tests.llm.helpers import run
from tests.support.vllm import VLLM_MODEL_DIR


@pytest.fixture(scope="module")
def sizer() -> SchemaSizer:
    if not (VLLM_MODEL_DIR / "tokenizer.json").is_file():
        pytest.fail(f"no {VLLM_MODEL_DIR}/tokenizer.json: run deploy/cpu-model/setup.sh")
    return SchemaSizer(LocalTokenizer(VLLM_MODEL_DIR))


def _checked(sizer: SchemaSizer, output: type[BaseModel], schema: dict[str, Any]) -> int:
    """The worst case's tokens, after checking the longest instance is a valid answer."""
    longest = run(sizer.longest(schema))
    output.model_validate_json(json.dumps(longest))
    return run(sizer.worst_case_tokens(schema))


def _strings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        free = node.get("type") == "string" and "enum" not in node and "const" not in node
        found = [node] if free else []
        return found + [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


@pytest.mark.parametrize("answer_tokens", [DEFAULT_ANSWER_TOKENS, 1536, 4096])
def test_review_answers_fit_on_the_first_try_and_the_smaller_retry(
    sizer: SchemaSizer, answer_tokens: int
) -> None:
    allowances = review_allowances(answer_tokens)
    assert len(allowances) == 2
    assert allowances[1].answer_tokens < allowances[0].answer_tokens
    for allowance in allowances:
        schema = run(sizer.size(FindingsAnswer, allowance))
        assert _checked(sizer, FindingsAnswer, schema) <= allowance.answer_tokens
        assert all("maxLength" in s for s in _strings(schema))
        # still a usable answer: a title and a quote of a line or two
        finding = schema["$defs"]["Finding"]["properties"]
        assert finding["title"]["maxLength"] >= 24
        assert finding["quoted_code"]["maxLength"] >= 24


@pytest.mark.parametrize("count", [1, 7, 60])
def test_scores_fit_and_cover_as_many_candidates_as_fit(sizer: SchemaSizer, count: int) -> None:
    scored, schema, max_tokens = run(score_schema(sizer, count, 512))
    assert max_tokens <= 512
    assert _checked(sizer, ScoresAnswer, schema) == max_tokens
    assert 1 <= scored <= count
    if scored < count:  # one more would not have fitted
        _, _, more = run(score_schema(sizer, scored + 1, 10_000))
        assert more > 512


def test_fix_answers_fit_their_budgets(sizer: SchemaSizer) -> None:
    options = FixOptions()
    for output, allowance in (
        (LocateAnswer, locate_allowance(options.locate_tokens, options.max_files)),
        (EditAnswer, edit_allowance(options.answer_tokens)),
        (EditAnswer, edit_allowance(768)),
    ):
        schema = run(sizer.size(output, allowance))
        assert _checked(sizer, output, schema) <= allowance.answer_tokens


def test_the_filler_is_the_costliest_ordinary_character(sizer: SchemaSizer) -> None:
    filler = run(sizer.filler())
    cost = run(sizer.count(json.dumps(filler * 32)[1:-1]))
    assert cost >= run(sizer.count(json.dumps("a" * 32)[1:-1]))
    assert cost >= 32  # SmolLM2 spends a token per character at least on its filler


class Open(BaseModel):
    text: str


class Counted(BaseModel):
    n: int


class Fraction(BaseModel):
    x: float


class Listed(BaseModel):
    items: list[Annotated[str, Field(max_length=5)]]


@pytest.mark.parametrize("model", [Open, Counted, Fraction, Listed])
def test_a_schema_without_a_worst_case_is_refused(
    sizer: SchemaSizer, model: type[BaseModel]
) -> None:
    with pytest.raises(UnboundedSchemaError):
        run(sizer.worst_case_tokens(model.model_json_schema()))


def test_a_budget_too_small_for_the_smallest_answer_is_refused(sizer: SchemaSizer) -> None:
    with pytest.raises(BudgetError):
        run(sizer.size(FindingsAnswer, Allowance(40, {"findings": 3})))


def test_the_module_function_agrees_with_the_sizer(sizer: SchemaSizer) -> None:
    schema = run(sizer.size(FindingsAnswer, Allowance(500, {"findings": 1})))
    assert run(worst_case_tokens(schema, LocalTokenizer(VLLM_MODEL_DIR))) == run(
        sizer.worst_case_tokens(schema)
    )


def test_allowance_shrinks_to_half_and_stops() -> None:
    allowance = Allowance(768, {"findings": 3})
    smaller = allowance.smaller()
    assert smaller == Allowance(384, {"findings": 1})
    assert Allowance(40).smaller() is None
