"""Which repository paths an edit may touch. Pure.

Refused: anything that is not a plain relative path inside the repository (absolute paths,
``..``, backslashes, control characters, drive letters), anything under ``.git`` (at any
depth, in any letter case: a case-insensitive checkout would take ``.GIT`` for it), the bot's
own ``.assist.toml``, and CI, build, hook and dependency files unless the operator and the
repository both allow it: a change that rewrites its own pipeline or build could exfiltrate
the secrets CI holds.
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
# build, hook and dependency files: what runs in CI (with its secrets) or on install
_BUILD_FILES = frozenset(
    {
        "makefile",
        "gnumakefile",
        "setup.py",
        "setup.cfg",
        "pyproject.toml",
        "package.json",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        "noxfile.py",
        "tox.ini",
        "build.gradle",
        "build.gradle.kts",
        "settings.gradle",
        "pom.xml",
        "cargo.toml",
        "build.rs",
        "go.mod",
        "gemfile",
        "rakefile",
        "dockerfile",
        "docker-compose.yml",
        "justfile",
        ".pre-commit-config.yaml",
        "requirements.txt",
        ".gitattributes",
        ".gitmodules",
        ".envrc",
    }
)
_HOOK_DIRS = (".husky/", ".githooks/", "hooks/", ".git-hooks/")
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
    """CI, build, hook or dependency configuration: files that decide what runs in CI or at
    install time (a ``conftest.py`` outside a tests directory runs with any pytest)."""
    lowered = path.lower()
    name = lowered.rsplit("/", 1)[-1]
    if lowered in _CI_FILES or lowered.startswith(_CI_DIRS):
        return True
    if name in _BUILD_FILES or lowered.startswith(_HOOK_DIRS) or name.startswith("requirements"):
        return True
    return name == "conftest.py" and not any(
        part in ("tests", "test", "testing") for part in lowered.split("/")[:-1]
    )


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
            f"{path} is CI configuration (CI, build, hook or dependency file): edits to it "
            "need the operator's ASSIST_FIX_ALLOW_BUILD_EDITS and the repository's "
            "[fix] allow_workflow_edits"
        )
    return None
