"""A light validator of requests against GitHub's REST description (rest-openapi.json).

openapi-core on a 13 MB description is slow to build; this one indexes the paths once per
process (path template -> regex), resolves ``$ref``s through a ``referencing`` registry, and
validates path and query parameters and the JSON body with OpenAPI 3.0 schema semantics.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

BASE = "urn:github-rest"
GREEDY = {"path", "ref"}  # parameters that may hold "/"
SIDES = {"LEFT", "RIGHT"}


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    pointer: str  # JSON pointer of the operation object
    regex: re.Pattern[str]
    literal_len: int


class SpecViolation(Exception):
    """The request does not match GitHub's REST description."""


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class GitHubSpec:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry: Registry[Any] = Registry().with_resource(
            BASE, Resource(contents=spec, specification=DRAFT4)
        )
        self.operations: list[Operation] = []
        for template, item in spec["paths"].items():
            parts = []
            for piece in re.split(r"(\{[^}]+\})", template):
                if piece.startswith("{"):
                    name = piece[1:-1]
                    pattern = ".+" if name in GREEDY else "[^/]+"
                    parts.append(f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', name)}>{pattern})")
                else:
                    parts.append(re.escape(piece))
            regex = re.compile("^" + "".join(parts) + "$")
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            for method in item:
                if method in {"get", "post", "put", "patch", "delete"}:
                    pointer = f"/paths/{_escape(template)}/{method}"
                    self.operations.append(Operation(template, method, pointer, regex, literal))
        self._validators: dict[str, OAS30WriteValidator] = {}
        self._read_validators: dict[str, OAS30ReadValidator] = {}

    @classmethod
    @functools.cache
    def load(cls, path: Path) -> GitHubSpec:
        return cls(json.loads(path.read_text()))

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self.registry.resolver(BASE).lookup(node["$ref"]).contents
        return node

    def _validator(self, pointer: str) -> OAS30WriteValidator:
        if pointer not in self._validators:
            self._validators[pointer] = OAS30WriteValidator(
                {"$ref": f"{BASE}#{pointer}"}, registry=self.registry
            )
        return self._validators[pointer]

    def _check(self, pointer: str, value: Any, what: str) -> None:
        try:
            self._validator(pointer).validate(value)
        except ValidationError as error:
            where = "/".join(str(p) for p in error.absolute_path)
            raise SpecViolation(f"{what} {where}: {error.message}") from None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        candidates = [
            (op, m)
            for op in self.operations
            if op.method == method and (m := op.regex.match(path)) is not None
        ]
        if not candidates:
            raise SpecViolation(f"{method.upper()} {path} is not in GitHub's REST description")
        op, m = max(candidates, key=lambda c: c[0].literal_len)
        return op, m.groupdict()

    def validate(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> Operation:
        """Raise SpecViolation unless the request matches an operation of the description."""
        op, path_params = self.match(method.lower(), path)
        node = self.resolve(self.spec["paths"][op.template])
        op_obj = node[op.method]
        params = [(index, self.resolve(p)) for index, p in enumerate(op_obj.get("parameters", []))]
        known_query = set()
        for index, param in params:
            name, where = param["name"], param["in"]
            pointer = f"{op.pointer}/parameters/{index}"
            raw = op_obj["parameters"][index]
            if "$ref" in raw:
                pointer = raw["$ref"].removeprefix("#")
            schema_pointer = f"{pointer}/schema"
            if where == "path":
                value = path_params.get(re.sub(r"[^A-Za-z0-9_]", "_", name))
                self._check(schema_pointer, _coerce(value, param.get("schema", {})), f"path {name}")
            elif where == "query":
                known_query.add(name)
                if name in query:
                    values = query[name]
                    value = _coerce(values[-1], self.resolve(param.get("schema", {})))
                    self._check(schema_pointer, value, f"query {name}")
                elif param.get("required"):
                    raise SpecViolation(f"query parameter {name} is required")
        unknown = set(query) - known_query
        if unknown:
            raise SpecViolation(f"unknown query parameters {sorted(unknown)} for {op.template}")
        request_body = self.resolve(op_obj.get("requestBody"))
        if request_body:
            content = request_body.get("content", {})
            if body.strip():
                if "application/json" not in content:
                    raise SpecViolation(f"{op.template} takes no JSON body")
                try:
                    document = json.loads(body)
                except ValueError as error:
                    raise SpecViolation(f"body is not JSON: {error}") from None
                body_pointer = (
                    f"{op.pointer}/requestBody/content/application~1json/schema"
                    if "$ref" not in op_obj["requestBody"]
                    else op_obj["requestBody"]["$ref"].removeprefix("#")
                    + "/content/application~1json/schema"
                )
                self._check(body_pointer, document, "body")
                _check_sides(document)
            elif request_body.get("required"):
                raise SpecViolation(f"{op.template} requires a body")
        return op


def _response_pointer(spec: GitHubSpec, op: Operation, status: int) -> str | None:
    responses = spec.resolve(spec.spec["paths"][op.template])[op.method].get("responses", {})
    raw = responses.get(str(status))
    if raw is None:
        return None
    base = raw["$ref"].removeprefix("#") if "$ref" in raw else f"{op.pointer}/responses/{status}"
    content = spec.resolve(raw).get("content", {})
    for media in ("application/json", "application/scim+json"):
        if media in content and "schema" in content[media]:
            return f"{base}/content/{_escape(media)}/schema"
    return None


def validate_response(spec: GitHubSpec, op: Operation, status: int, body: Any) -> None:
    """Raise SpecViolation unless a JSON response matches the description's schema for it."""
    if status >= 400:
        return
    pointer = _response_pointer(spec, op, status)
    if pointer is None:
        declared = spec.resolve(spec.spec["paths"][op.template])[op.method].get("responses", {})
        if str(status) not in declared:
            raise SpecViolation(f"status {status} is not a documented response of {op.template}")
        return
    if pointer not in spec._read_validators:
        spec._read_validators[pointer] = OAS30ReadValidator(
            {"$ref": f"{BASE}#{pointer}"}, registry=spec.registry
        )
    for error in spec._read_validators[pointer].iter_errors(body):
        if _null_for_nullable_enum(error):
            continue
        where = "/".join(str(p) for p in error.absolute_path)
        raise SpecViolation(f"response {where}: {error.message}")


def _null_for_nullable_enum(error: ValidationError) -> bool:
    """OpenAPI 3.0.3 wants null listed in a nullable enum; GitHub's description omits it while
    GitHub sends null (e.g. a running check run's ``conclusion``): accept null there."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    return error.instance is None and bool(schema.get("nullable")) and error.validator == "enum"


def _check_sides(document: Any) -> None:
    """The description does not constrain ``side``/``start_side``: GitHub takes LEFT/RIGHT."""
    items = [document]
    if isinstance(document, dict):
        items += list(document.get("comments") or [])
    for item in items:
        if isinstance(item, dict):
            for key in ("side", "start_side"):
                if key in item and item[key] not in SIDES:
                    raise SpecViolation(f"body {key}: {item[key]!r} is not LEFT or RIGHT")


def _coerce(value: str | None, schema: dict[str, Any]) -> Any:
    if value is None:
        return None
    kind = schema.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind == "array":
        return value.split(",")
    return value


def template_url(template: str, **params: str) -> str:
    return template.format(**{k: quote(v, safe="/") for k, v in params.items()})


def _resolve_all(spec: GitHubSpec, schema: Any) -> dict[str, Any]:
    node = spec.resolve(schema)
    return node if isinstance(node, dict) else {}


def synthesize(spec: GitHubSpec, schema: Any, depth: int = 0) -> Any:
    """A value satisfying ``schema``: its example, else the first enum value or the default,
    else the smallest value of its type with every required property."""
    node = _resolve_all(spec, schema)
    if "allOf" in node:
        merged: dict[str, Any] = {}
        for sub in node["allOf"]:
            value = synthesize(spec, sub, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [_resolve_all(spec, s) for s in node[key]]
            concrete = [o for o in options if o.get("type") != "null"] or options
            return synthesize(spec, concrete[0], depth + 1)
    if node.get("nullable") and depth > 6:
        return None
    if "example" in node and node["example"] is not None:
        return copy.deepcopy(node["example"])
    if node.get("enum"):
        return node["enum"][0]
    if "default" in node:
        return copy.deepcopy(node["default"])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {k: synthesize(spec, props.get(k, {}), depth + 1) for k in node.get("required", [])}
    if kind == "array":
        return []
    if kind == "string":
        return {"date-time": "2024-01-01T00:00:00Z", "uri": "https://example.test/"}.get(
            node.get("format", ""), ""
        )
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return None


def complete(spec: GitHubSpec, schema: Any, value: Any) -> Any:
    """Fill in the required properties a response lacks (the test forge keeps only the state it
    needs), recursively; the values it sets itself are kept and then validated."""
    node = _resolve_all(spec, schema)
    if value is None:
        return value
    for sub in node.get("allOf", []):
        value = complete(spec, sub, value)
    for key in ("anyOf", "oneOf"):
        if key in node and isinstance(value, dict):
            options = [_resolve_all(spec, s) for s in node[key]]
            objects = [o for o in options if o.get("type") == "object" or "properties" in o]
            if objects:
                best = max(objects, key=lambda o: len(set(o.get("properties", {})) & set(value)))
                value = complete(spec, best, value)
    if isinstance(value, dict) and ("properties" in node or node.get("type") == "object"):
        props = node.get("properties", {})
        for name in node.get("required", []):
            if name not in value:
                value[name] = synthesize(spec, props.get(name, {}))
        for name, item in value.items():
            if name in props:
                value[name] = complete(spec, props[name], item)
    elif isinstance(value, list) and "items" in node:
        return [complete(spec, node["items"], item) for item in value]
    return value


def complete_response(spec: GitHubSpec, op: Operation, status: int, body: Any) -> Any:
    pointer = _response_pointer(spec, op, status)
    if pointer is None or status >= 400:
        return body
    schema = spec.registry.resolver(BASE).lookup(f"{BASE}#{pointer}").contents
    return complete(spec, schema, body)
