"""Which repository paths an edit may touch. Pure.

Refused: anything that is not a plain relative path inside the repository (absolute paths,
``..``, backslashes, control characters, drive letters), anything under ``.git`` (at any
depth, in any letter case: a case-insensitive checkout would take ``.GIT`` for it), the bot's
own ``.assist.toml``, and CI configuration unless the repository allows it: a change that
rewrites its own pipeline could exfiltrate the secrets CI holds.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from bot.repoconfig import CONFIG_PATH

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CI_DIRS = (
    ".github/workflows/",
    ".github/actions/",
    ".gitlab/ci/",
    ".circleci/",
    ".buildkite/",
    ".woodpecker/",
    ".azure-pipelines/",
    ".forgejo/workflows/",
    ".gitea/workflows/",
)
_CI_FILES = frozenset(
    {
        ".gitlab-ci.yml",
        ".gitlab-ci.yaml",
        ".travis.yml",
        "jenkinsfile",
        "azure-pipelines.yml",
        "azure-pipelines.yaml",
        "bitbucket-pipelines.yml",
        ".drone.yml",
        ".woodpecker.yml",
        ".woodpecker.yaml",
        "appveyor.yml",
        ".appveyor.yml",
        "cloudbuild.yaml",
        "cloudbuild.yml",
    }
)
MAX_PATH_CHARS = 400


def normalise(path: str) -> str | None:
    """The path in canonical form (``a/b.py``), or None when it is not a plain relative path."""
    if not path or len(path) > MAX_PATH_CHARS or _CONTROL.search(path) or "\\" in path:
        return None
    if path.startswith("/") or _DRIVE.match(path) or path.startswith("~"):
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        return None
    return str(PurePosixPath(*parts))


def is_ci_config(path: str) -> bool:
    lowered = path.lower()
    return lowered in _CI_FILES or lowered.startswith(_CI_DIRS)


def refusal(path: str, *, allow_ci: bool = False) -> str | None:
    """Why an edit to ``path`` is refused, or None when it is allowed."""
    clean = normalise(path)
    if clean is None:
        return f"{path!r} is not a relative path inside the repository"
    if clean != path:
        return f"{path!r} is not in canonical form (write {clean!r})"
    parts = [part.lower() for part in clean.split("/")]
    if any(part == ".git" or part.startswith(".git~") for part in parts):
        return f"{path} is inside .git"
    if clean == CONFIG_PATH:
        return f"{CONFIG_PATH} configures this bot and is left to the maintainers"
    if not allow_ci and is_ci_config(clean):
        return (
            f"{path} is CI configuration; the repository's .assist.toml does not allow "
            "edits to it ([fix] allow_workflow_edits)"
        )
    return None
