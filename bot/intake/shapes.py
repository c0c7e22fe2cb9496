"""Older payload generations brought to the shape the normalisers read. Pure.

Long-lived self-managed GitLab instances still send hooks of earlier generations (GitLab's own
documentation of the 8.x-10.x hooks shows them): the project's id only at the top level
(``project_id``) or in ``object_attributes.target_project_id``, a ``project`` object without
``id`` (or, for merge requests, no ``project`` at all but ``object_attributes.target``), merge
request hooks whose ``object_attributes`` carry ``state`` but no ``action``, or
``work_in_progress`` instead of ``draft``. GitHub's older push payloads name the default branch
``master_branch`` and describe the owner by ``name`` instead of ``login``.

Each function returns a new dict with the current fields filled in from their older places;
a field already present is never overwritten, and nothing is invented: a payload that still
lacks what we need is then ignored by the normaliser with the reason.
"""

from __future__ import annotations

from typing import Any

_MR_STATE_ACTION = {"opened": "open", "reopened": "reopen", "closed": "close", "merged": "merge"}


def _dict(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _first_int(*values: object) -> int | None:
    for value in values:
        number = _int(value)
        if number is not None:
            return number
    return None


def upgrade_gitlab(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with its project, merge request and action in the current places."""
    out = dict(payload)
    attrs = _dict(out.get("object_attributes"))
    project = _dict(out.get("project"))
    if project is None and attrs is not None:
        # Merge request hooks before the ``project`` object: the target project is the one.
        project = _dict(attrs.get("target"))
    if project is not None:
        project = dict(project)
        if _int(project.get("id")) is None:
            project_id = _first_int(
                out.get("project_id"),
                attrs.get("project_id") if attrs else None,
                attrs.get("target_project_id") if attrs and event == "Merge Request Hook" else None,
            )
            if project_id is not None:
                project["id"] = project_id
        out["project"] = project
    if attrs is not None and event == "Merge Request Hook":
        attrs = dict(attrs)
        if not attrs.get("action") and attrs.get("state") in _MR_STATE_ACTION:
            attrs["action"] = _MR_STATE_ACTION[attrs["state"]]
        out["object_attributes"] = attrs
    return out


def upgrade_github(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with ``repository.full_name`` and ``default_branch`` where older pushes
    had ``owner.name`` and ``master_branch``."""
    repo = _dict(payload.get("repository"))
    if repo is None:
        return payload
    repo = dict(repo)
    if not isinstance(repo.get("full_name"), str):
        owner = _dict(repo.get("owner")) or {}
        login = owner.get("login") or owner.get("name")
        if isinstance(login, str) and isinstance(repo.get("name"), str):
            repo["full_name"] = f"{login}/{repo['name']}"
    if repo.get("default_branch") is None and isinstance(repo.get("master_branch"), str):
        repo["default_branch"] = repo["master_branch"]
    return {**payload, "repository": repo}
