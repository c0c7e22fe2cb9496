"""Supported languages: file extensions, tree-sitter grammars and their own tags queries.

The tags queries are the `queries/tags.scm` data files shipped inside the grammar wheels,
loaded with `importlib.resources`; nothing is fetched at run time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath

import tree_sitter as ts

from indexer.errors import GrammarError


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """How to load one language: its module, entry point and the tags files to combine."""

    name: str
    module: str
    entry: str
    tags: tuple[tuple[str, str], ...]  # (package resource root, path inside it)
    extensions: tuple[str, ...]


_JS_TAGS = ("tree_sitter_javascript", "queries/tags.scm")
_TS_TAGS = ("tree_sitter_typescript", "queries/tags.scm")

SPECS: tuple[LanguageSpec, ...] = (
    LanguageSpec(
        "python",
        "tree_sitter_python",
        "language",
        (("tree_sitter_python", "queries/tags.scm"),),
        (".py", ".pyi"),
    ),
    LanguageSpec(
        "javascript",
        "tree_sitter_javascript",
        "language",
        (_JS_TAGS,),
        (".js", ".jsx", ".mjs", ".cjs"),
    ),
    LanguageSpec(
        "typescript",
        "tree_sitter_typescript",
        "language_typescript",
        (_JS_TAGS, _TS_TAGS),
        (".ts", ".mts", ".cts"),
    ),
    LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (_JS_TAGS, _TS_TAGS), (".tsx",)),
    LanguageSpec(
        "go", "tree_sitter_go", "language", (("tree_sitter_go", "queries/tags.scm"),), (".go",)
    ),
    LanguageSpec(
        "java",
        "tree_sitter_java",
        "language",
        (("tree_sitter_java", "queries/tags.scm"),),
        (".java",),
    ),
    LanguageSpec(
        "rust",
        "tree_sitter_rust",
        "language",
        (("tree_sitter_rust", "queries/tags.scm"),),
        (".rs",),
    ),
    LanguageSpec(
        "c", "tree_sitter_c", "language", (("tree_sitter_c", "queries/tags.scm"),), (".c", ".h")
    ),
    LanguageSpec(
        "cpp",
        "tree_sitter_cpp",
        "language",
        (("tree_sitter_cpp", "queries/tags.scm"),),
        (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"),
    ),
    LanguageSpec(
        "ruby",
        "tree_sitter_ruby",
        "language",
        (("tree_sitter_ruby", "queries/tags.scm"),),
        (".rb",),
    ),
    LanguageSpec(
        "csharp",
        "tree_sitter_c_sharp",
        "language",
        # The c-sharp wheel ships its queries in a sibling folder whose name has a hyphen.
        (("tree_sitter_c_sharp", "../tree_sitter_c-sharp/queries/tags.scm"),),
        (".cs",),
    ),
    LanguageSpec(
        "php",
        "tree_sitter_php",
        "language_php",
        (("tree_sitter_php", "queries/tags.scm"),),
        (".php",),
    ),
)

_BY_EXTENSION: dict[str, LanguageSpec] = {ext: s for s in SPECS for ext in s.extensions}
_BY_NAME: dict[str, LanguageSpec] = {s.name: s for s in SPECS}

# Extensions of text files that get line-window chunks although no grammar parses them.
PLAIN_TEXT_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".json", ".cfg", ".ini", ".sh",
        ".bash", ".sql", ".html", ".css", ".scss", ".kt", ".kts", ".swift", ".scala", ".lua",
        ".pl", ".r", ".m", ".ex", ".exs", ".erl", ".hs", ".ml", ".dart", ".vue", ".svelte",
        ".proto", ".graphql", ".tf", ".xml", ".gradle", ".cmake", ".mk", ".dockerfile", "",
    }
)  # fmt: skip


def language_for_path(path: str) -> str | None:
    """The parsed language of a repository path, or None when no grammar covers it."""
    spec = _BY_EXTENSION.get(PurePosixPath(path).suffix.lower())
    return spec.name if spec else None


def text_language_for_path(path: str) -> str | None:
    """A label for files chunked by line windows, or None when the file is not indexed."""
    p = PurePosixPath(path)
    suffix = p.suffix.lower()
    if suffix in PLAIN_TEXT_EXTENSIONS:
        return suffix.lstrip(".") or p.name.lower()
    return None


@dataclass(frozen=True, slots=True)
class Grammar:
    """A loaded language: its tree-sitter `Language`, a parser and the combined tags query."""

    name: str
    language: ts.Language
    tags: ts.Query

    def parser(self) -> ts.Parser:
        return ts.Parser(self.language)


def _read_tags(spec: LanguageSpec) -> str:
    parts = []
    for package, rel in spec.tags:
        try:
            parts.append(files(package).joinpath(rel).read_text(encoding="utf-8"))
        except (OSError, ModuleNotFoundError) as exc:
            raise GrammarError(f"tags query {package}/{rel} not found: {exc}") from exc
    # Our own reference patterns where the grammar's tags.scm has few or none (C, C++, ...).
    extra = files("indexer.queries").joinpath(f"{spec.name}-refs.scm")
    if extra.is_file():
        parts.append(extra.read_text(encoding="utf-8"))
    return "\n".join(parts)


@cache
def grammar(name: str) -> Grammar:
    """Load a grammar and its tags query once per process."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise GrammarError(f"unsupported language {name!r}")
    try:
        module = importlib.import_module(spec.module)
        language = ts.Language(getattr(module, spec.entry)())
        query = ts.Query(language, _read_tags(spec))
    except (ImportError, AttributeError, ValueError, SyntaxError) as exc:
        raise GrammarError(f"cannot load grammar {name}: {exc}") from exc
    return Grammar(name, language, query)


def supported_languages() -> tuple[str, ...]:
    return tuple(s.name for s in SPECS)
