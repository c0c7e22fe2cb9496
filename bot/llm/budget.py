"""Answer schemas whose longest valid answer fits the answer's token budget.

Guided decoding (vLLM's xgrammar) only forces the JSON to close when the schema itself is
finite: with a 4,000-character string allowed, a small model may keep writing inside it until
``max_tokens`` cuts the answer. So every structured request sends a *sized* schema: every
array has ``maxItems``, every string ``maxLength``, every integer ``minimum``/``maximum``
and every non-integer number an ``enum``, chosen so that the longest valid instance, written
with the costliest ordinary character and tokenized by the served model's own tokenizer, fits
the budget.

- :func:`worst_case_tokens` builds that longest instance and counts it (raises
  :class:`UnboundedSchemaError` for a schema without a worst case);
- :func:`sized_schema` sets the given arrays' ``maxItems`` and gives every string of a
  pydantic model 24 characters plus one share of its own ``max_length`` (the caps are the
  proportions), the largest share with which the worst case fits;
- :class:`Allowance` and :meth:`Allowance.smaller`: the budget of one try and the smaller one
  to ask with when an answer is cut at ``max_tokens`` anyway.

What the worst case covers: printable ASCII, newlines and tabs in strings (their JSON escapes
included), one space after every ``,`` and ``:``. A string of control or non-ASCII characters
(``\\uXXXX`` escapes, up to six tokens per character) or free whitespace between tokens (a
server without ``disable_any_whitespace``) can still exceed it; that is what the smaller
retry is for.
"""

from __future__ import annotations

import copy
import json
import math
import string
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bot.llm.errors import LLMError
from bot.llm.protocol import Tokenizer

Schema = dict[str, Any]

# The characters an answer is assumed to be written in (see the module docstring).
ORDINARY_CHARS = string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")
_SEPARATORS = (", ", ": ")
_PROBE = 32
_FLOOR_CHARS = 24  # what every string gets before the rest is shared out by the caps


class UnboundedSchemaError(LLMError):
    """The schema has no longest instance (a string without ``maxLength``, ...)."""


class BudgetError(LLMError):
    """Even the smallest sized schema does not fit the answer budget."""


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one try may produce: ``answer_tokens`` (also ``max_tokens``) and per-array item
    limits by property name (``{"findings": 3}``)."""

    answer_tokens: int
    items: Mapping[str, int] = field(default_factory=dict)

    def smaller(self) -> Allowance | None:
        """Half the tokens and half the items (at least one), or None when it cannot shrink."""
        if self.answer_tokens < 64:
            return None
        return Allowance(
            self.answer_tokens // 2,
            {name: max(1, count // 2) for name, count in self.items.items()},
        )


class SchemaSizer:
    """Worst cases and sized schemas for one tokenizer (its measurements are cached)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._filler: str | None = None
        self._counts: dict[str, int] = {}

    async def count(self, text: str) -> int:
        if text not in self._counts:
            self._counts[text] = len(await self._tokenizer.encode(text))
        return self._counts[text]

    async def filler(self) -> str:
        """The ordinary character that costs the most tokens per character in a JSON string."""
        if self._filler is None:
            best, cost = "a", -1.0
            for char in ORDINARY_CHARS:
                tokens = await self.count(_escaped(char * _PROBE)) / _PROBE
                if tokens > cost:
                    best, cost = char, tokens
            self._filler = best
        return self._filler

    async def longest(self, schema: Schema) -> Any:
        """The longest valid instance of ``schema`` (``$ref`` into its ``$defs`` resolved)."""
        return await self._longest(schema, schema, await self.filler())

    async def worst_case_tokens(self, schema: Schema) -> int:
        """Tokens of the longest valid answer, as the model would write it."""
        return await self.count(_dumps(await self.longest(schema)))

    async def size(
        self,
        output: type[BaseModel],
        allowance: Allowance,
    ) -> Schema:
        """``output``'s schema with ``allowance.items`` as ``maxItems`` and every string's
        ``maxLength`` scaled down from the model's own, as far as needed to fit."""
        base = _with_items(output.model_json_schema(), allowance.items)
        budget = allowance.answer_tokens
        if await self.worst_case_tokens(base) <= budget:
            return base
        for floor in (_FLOOR_CHARS, 1):
            smallest = _scaled(base, 0.0, floor)
            need = await self.worst_case_tokens(smallest)
            if need <= budget:
                break
        else:
            raise BudgetError(
                f"{output.__name__} needs {need} tokens at its smallest, "
                f"over the answer budget of {budget}"
            )
        low, high = 0.0, 1.0  # low fits, high does not
        for _ in range(14):
            middle = (low + high) / 2
            if await self.worst_case_tokens(_scaled(base, middle, floor)) <= budget:
                low = middle
            else:
                high = middle
        return _scaled(base, low, floor)

    async def _longest(self, node: Schema, root: Schema, filler: str) -> Any:
        if "$ref" in node:
            return await self._longest(_resolve(node["$ref"], root), root, filler)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return await self._costliest(list(node["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [await self._longest(option, root, filler) for option in node[key]]
                return await self._costliest(options)
        kind = node.get("type")
        if isinstance(kind, list):
            options = [await self._longest({**node, "type": one}, root, filler) for one in kind]
            return await self._costliest(options)
        if kind == "string":
            if "maxLength" not in node:
                raise UnboundedSchemaError(f"a string without maxLength: {node}")
            return filler * int(node["maxLength"])
        if kind == "integer":
            if "minimum" not in node or "maximum" not in node:
                raise UnboundedSchemaError(f"an integer without minimum and maximum: {node}")
            return await self._costliest([int(node["minimum"]), int(node["maximum"])])
        if kind == "number":
            raise UnboundedSchemaError(f"a number without an enum has unbounded digits: {node}")
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        if kind == "array":
            if "maxItems" not in node:
                raise UnboundedSchemaError(f"an array without maxItems: {node}")
            item = await self._longest(node.get("items", {}), root, filler)
            return [item] * int(node["maxItems"])
        if kind == "object":
            if node.get("additionalProperties") not in (None, False):
                raise UnboundedSchemaError(f"an object open to more properties: {node}")
            return {
                name: await self._longest(sub, root, filler)
                for name, sub in node.get("properties", {}).items()
            }
        raise UnboundedSchemaError(f"no worst case for {node}")

    async def _costliest(self, values: list[Any]) -> Any:
        best, cost = None, -1
        for value in values:
            tokens = await self.count(_dumps(value))
            if tokens > cost:
                best, cost = value, tokens
        return best


_SIZERS: weakref.WeakKeyDictionary[Tokenizer, SchemaSizer] = weakref.WeakKeyDictionary()


def sizer_for(tokenizer: Tokenizer) -> SchemaSizer:
    """The tokenizer's sizer, kept while the tokenizer lives (its measurements are reused)."""
    sizer = _SIZERS.get(tokenizer)
    if sizer is None:
        sizer = _SIZERS[tokenizer] = SchemaSizer(tokenizer)
    return sizer


async def worst_case_tokens(schema: Schema, tokenizer: Tokenizer) -> int:
    """Tokens of the longest valid instance of ``schema`` (see :class:`SchemaSizer`)."""
    return await sizer_for(tokenizer).worst_case_tokens(schema)


async def sized_schema(
    output: type[BaseModel], tokenizer: Tokenizer, allowance: Allowance
) -> Schema:
    """``output``'s JSON schema sized so its longest valid answer fits ``allowance``.

    This is what every structured request calls (``complete_json(..., schema=...)`` and
    ``fit(..., answer=output, schema=...)`` with the same schema, ``max_tokens`` at most
    ``allowance.answer_tokens``)."""
    return await sizer_for(tokenizer).size(output, allowance)


def _escaped(text: str) -> str:
    return json.dumps(text)[1:-1]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=_SEPARATORS)


def _resolve(ref: str, root: Schema) -> Schema:
    if not ref.startswith("#/"):
        raise UnboundedSchemaError(f"only local references are supported: {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    if not isinstance(node, dict):
        raise UnboundedSchemaError(f"{ref} is not a schema")
    return node


def _walk(node: Any, visit: Any, name: str | None = None) -> None:
    """Call ``visit(node, property_name)`` on every sub-schema."""
    if isinstance(node, dict):
        visit(node, name)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    _walk(sub, visit, prop)
            elif key in ("items", "anyOf", "oneOf", "allOf", "$defs"):
                if isinstance(value, list):
                    for sub in value:
                        _walk(sub, visit, name)
                elif key == "$defs" and isinstance(value, dict):
                    for sub in value.values():
                        _walk(sub, visit, None)
                else:
                    _walk(value, visit, name)


def _with_items(schema: Schema, items: Mapping[str, int]) -> Schema:
    result = copy.deepcopy(schema)

    def visit(node: Schema, name: str | None) -> None:
        if node.get("type") == "array" and name is not None and name in items:
            cap = node.get("maxItems")
            wanted = items[name]
            node["maxItems"] = wanted if cap is None else min(int(cap), wanted)

    _walk(result, visit)
    return result


def _scaled(schema: Schema, scale: float, floor: int) -> Schema:
    """Every string's maxLength: ``floor`` characters plus ``scale`` times its cap, within
    the cap (and at least its minLength)."""
    result = copy.deepcopy(schema)

    def visit(node: Schema, _name: str | None) -> None:
        if node.get("type") == "string" and "maxLength" in node:
            cap = int(node["maxLength"])
            least = max(1, int(node.get("minLength", 0)))
            node["maxLength"] = max(least, min(cap, floor + math.floor(cap * scale)))

    _walk(result, visit)
    return result
