"""The checks a candidate change must pass before anything is pushed. Pure: texts in.

- ``syntax``: every touched file parses with tree-sitter with no more ERROR/MISSING nodes than
  before (a file in a language without a grammar is not counted);
- ``names``: for Python, no new undefined names, undefined exports or unused imports
  (pyflakes, the checker behind ruff's F821/F822/F401 family), compared with the file before,
  so problems the repository already had are not blamed on the change.

The repository's own tests are the fourth check, run in a sandbox (:mod:`bot.fix.sandbox`).
"""

from __future__ import annotations

import ast
import enum
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import tree_sitter as ts
from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages

from indexer.errors import GrammarError
from indexer.languages import grammar, language_for_path

_NAME_PROBLEMS: dict[type[pyflakes_messages.Message], str] = {
    pyflakes_messages.UndefinedName: "undefined name",
    pyflakes_messages.UndefinedLocal: "local used before assignment",
    pyflakes_messages.UndefinedExport: "undefined name in __all__",
    pyflakes_messages.UnusedImport: "unused import",
}


class Status(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str  # edits, syntax, names, tests
    status: Status
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


def error_count(source: bytes, language: str) -> int:
    """ERROR and MISSING nodes in the tree-sitter parse of ``source``."""
    tree = grammar(language).parser().parse(source)
    count = 0
    todo: list[ts.Node] = [tree.root_node]
    while todo:
        node = todo.pop()
        if node.is_error or node.is_missing:
            count += 1
        if node.has_error:
            todo.extend(node.children)
    return count


def syntax_errors(path: str, text: str) -> int | None:
    """Syntax error nodes of ``text`` as ``path``'s language; None without a grammar."""
    language = language_for_path(path)
    if language is None:
        return None
    try:
        return error_count(text.encode("utf-8"), language)
    except GrammarError:
        return None


def python_problems(text: str) -> Counter[tuple[str, str]] | None:
    """(problem, name) counts pyflakes finds in Python ``text``; None when it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found: Counter[tuple[str, str]] = Counter()
    for message in pyflakes_checker.Checker(tree, filename="<candidate>").messages:
        label = _NAME_PROBLEMS.get(type(message))
        if label is not None:
            found[(label, str(message.message_args[0]))] += 1
    return found


def check_syntax(before: Mapping[str, str | None], after: Mapping[str, str]) -> CheckResult:
    problems: list[str] = []
    counted = 0
    for path, text in sorted(after.items()):
        now = syntax_errors(path, text)
        if now is None:
            continue
        counted += 1
        old_text = before.get(path)
        was = syntax_errors(path, old_text) if old_text is not None else 0
        if now > (was or 0):
            problems.append(f"{path}: {now} syntax error node(s), {was or 0} before")
    if problems:
        return CheckResult("syntax", Status.FAILED, "; ".join(problems))
    if not counted:
        return CheckResult("syntax", Status.SKIPPED, "no touched file has a tree-sitter grammar")
    return CheckResult("syntax", Status.PASSED, f"{counted} file(s) parse with no new errors")


def check_names(before: Mapping[str, str | None], after: Mapping[str, str]) -> CheckResult:
    problems: list[str] = []
    counted = 0
    for path, text in sorted(after.items()):
        if not path.endswith((".py", ".pyi")):
            continue
        now = python_problems(text)
        if now is None:
            continue  # does not parse: the syntax check says so
        counted += 1
        old_text = before.get(path)
        was = (python_problems(old_text) if old_text is not None else None) or Counter()
        for (label, name), times in sorted((now - was).items()):
            if label == "unused import" and path.endswith("__init__.py"):
                continue  # re-exports
            problems.append(f"{path}: {label} `{name}`" + (f" (x{times})" if times > 1 else ""))
    if problems:
        return CheckResult("names", Status.FAILED, "; ".join(problems))
    if not counted:
        return CheckResult("names", Status.SKIPPED, "no touched Python file")
    return CheckResult("names", Status.PASSED, f"{counted} Python file(s): no new name problems")
