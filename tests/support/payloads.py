"""Real webhook payloads from the corpus, pointed at a repository on the test forge.

The forges' own examples (GitHub's webhook descriptions, GitLab's hook payloads) are copied and
only the fields that name the repository, the change, the commits and the people are changed,
so what the intake parses is what a forge sends.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.support.webhooks import github_examples, gitlab_bodies


def _github(corpora: Path, event: str, action: str) -> dict[str, Any]:
    for name, payload in github_examples(corpora):
        if name == event and payload.get("action") == action:
            return copy.deepcopy(payload)
    raise LookupError(f"no {event}/{action} example in the corpus")


def _github_repo(
    payload: dict[str, Any], repo: str, repo_id: int, installation: int | None
) -> None:
    owner, name = repo.split("/", 1)
    payload["repository"].update(
        {"full_name": repo, "name": name, "id": repo_id, "default_branch": "main"}
    )
    payload["repository"]["owner"]["login"] = owner
    if installation is None:
        payload.pop("installation", None)
    else:
        payload["installation"] = {"id": installation, "node_id": "MDIz"}


def github_pull(
    corpora: Path,
    *,
    repo: str,
    repo_id: int,
    number: int,
    head_sha: str,
    base_sha: str,
    action: str = "opened",
    author: str = "alice",
    installation: int | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    payload = _github(corpora, "pull_request", "opened")
    payload["action"] = action
    _github_repo(payload, repo, repo_id, installation)
    pr = payload["pull_request"]
    payload["number"] = pr["number"] = number
    pr["draft"] = False
    pr["state"] = "open"
    pr["head"].update({"sha": head_sha, "ref": "feature"})
    pr["base"].update({"sha": base_sha, "ref": "main"})
    pr["user"]["login"] = author
    payload["sender"]["login"] = author
    payload["sender"]["type"] = "User"
    if before is not None:
        payload["before"], payload["after"] = before, head_sha
    return payload


def github_comment(
    corpora: Path,
    *,
    repo: str,
    repo_id: int,
    number: int,
    comment_id: int,
    body: str,
    author: str,
    on_pull: bool = True,
    installation: int | None = None,
) -> dict[str, Any]:
    payload = _github(corpora, "issue_comment", "created")
    _github_repo(payload, repo, repo_id, installation)
    payload["issue"]["number"] = number
    payload["issue"]["state"] = "open"
    if on_pull:
        payload["issue"]["pull_request"] = {"url": f"https://api.example/pulls/{number}"}
    else:
        payload["issue"].pop("pull_request", None)
    payload["comment"].update({"id": comment_id, "body": body})
    payload["comment"]["user"]["login"] = author
    payload["comment"]["user"]["type"] = "User"
    payload["sender"]["login"] = author
    payload["sender"]["type"] = "User"
    return payload


def _gitlab(corpora: Path, name: str) -> dict[str, Any]:
    for found, body in gitlab_bodies(corpora):
        if found == name:
            return copy.deepcopy(body)
    raise LookupError(f"no {name} in the corpus")


def _gitlab_project(payload: dict[str, Any], repo: str, project_id: int) -> None:
    payload["project"].update(
        {"id": project_id, "path_with_namespace": repo, "default_branch": "main"}
    )


def gitlab_merge_request(
    corpora: Path,
    *,
    repo: str,
    project_id: int,
    iid: int,
    head_sha: str,
    action: str = "open",
    oldrev: str | None = None,
    author: str = "alice",
) -> dict[str, Any]:
    payload = _gitlab(corpora, "set-b/merge_request.json")
    _gitlab_project(payload, repo, project_id)
    payload["user"]["username"] = author
    attrs = payload["object_attributes"]
    attrs.update(
        {
            "iid": iid,
            "action": action,
            "state": "opened",
            "source_branch": "feature",
            "target_branch": "main",
            "draft": False,
            "work_in_progress": False,
        }
    )
    attrs["last_commit"]["id"] = head_sha
    if oldrev is None:
        attrs.pop("oldrev", None)
    else:
        attrs["oldrev"] = oldrev
    return payload


def gitlab_note(
    corpora: Path,
    *,
    repo: str,
    project_id: int,
    iid: int,
    note_id: int,
    body: str,
    author: str,
    discussion_id: str | None = None,
    note_type: str | None = None,
) -> dict[str, Any]:
    payload = _gitlab(corpora, "set-b/note_merge_request.json")
    _gitlab_project(payload, repo, project_id)
    payload["user"]["username"] = author
    payload["user"].pop("bot", None)
    attrs = payload["object_attributes"]
    attrs.update({"id": note_id, "note": body, "noteable_type": "MergeRequest", "system": False})
    if discussion_id is not None:
        attrs["discussion_id"] = discussion_id
    if note_type is not None:
        attrs["type"] = note_type
    payload["merge_request"]["iid"] = iid
    return payload


def gitlab_emoji(
    corpora: Path,
    *,
    repo: str,
    project_id: int,
    iid: int,
    note_id: int,
    name: str,
    author: str,
    discussion_id: str | None = None,
    action: str = "award",
) -> dict[str, Any]:
    """An award emoji on a note of a merge request (the corpus example is on an issue note:
    its ``issue`` becomes the ``merge_request`` GitLab sends for merge request notes)."""
    payload = _gitlab(corpora, "set-a/emoji.json")
    payload["project"].update(
        {"id": project_id, "path_with_namespace": repo, "default_branch": "main"}
    )
    payload["project_id"] = project_id
    payload["user"]["username"] = author
    payload["event_type"] = action
    attrs = payload["object_attributes"]
    attrs.update({"name": name, "awardable_type": "Note", "awardable_id": note_id,
                  "action": action, "id": note_id * 7 + len(name)})  # fmt: skip
    payload["note"].update({"id": note_id, "noteable_type": "MergeRequest",
                            "discussion_id": discussion_id})  # fmt: skip
    mr = payload.pop("issue")
    mr["iid"] = iid
    payload["merge_request"] = mr
    return payload


def github_review_reply(
    corpora: Path,
    *,
    repo: str,
    repo_id: int,
    number: int,
    comment_id: int,
    in_reply_to: int,
    body: str,
    author: str,
    installation: int | None = None,
) -> dict[str, Any]:
    """A reply in a review thread (``pull_request_review_comment`` created)."""
    payload = _github(corpora, "pull_request_review_comment", "created")
    _github_repo(payload, repo, repo_id, installation)
    payload["pull_request"]["number"] = number
    payload["comment"].update({"id": comment_id, "body": body, "in_reply_to_id": in_reply_to})
    payload["comment"]["user"]["login"] = author
    payload["comment"]["user"]["type"] = "User"
    payload["sender"]["login"] = author
    payload["sender"]["type"] = "User"
    return payload


def github_review_thread(
    corpora: Path,
    *,
    repo: str,
    repo_id: int,
    number: int,
    first_comment: int,
    action: str,
    author: str,
    installation: int | None = None,
) -> dict[str, Any]:
    """A review thread resolved or unresolved (``pull_request_review_thread``)."""
    payload = _github(corpora, "pull_request_review_thread", action)
    _github_repo(payload, repo, repo_id, installation)
    payload["pull_request"]["number"] = number
    payload["thread"]["comments"] = payload["thread"]["comments"][:1]
    payload["thread"]["comments"][0]["id"] = first_comment
    payload["sender"]["login"] = author
    payload["sender"]["type"] = "User"
    return payload


def github_push(
    corpora: Path,
    *,
    repo: str,
    repo_id: int,
    before: str,
    after: str,
    branch: str = "main",
    installation: int | None = None,
) -> dict[str, Any]:
    for name, example in github_examples(corpora):
        if name == "push":
            payload = copy.deepcopy(example)
            break
    else:  # pragma: no cover - the corpus has push examples
        raise LookupError("no push example in the corpus")
    _github_repo(payload, repo, repo_id, installation)
    payload.update(
        {"ref": f"refs/heads/{branch}", "before": before, "after": after, "deleted": False}
    )
    return payload


def gitlab_push(
    corpora: Path, *, repo: str, project_id: int, before: str, after: str, branch: str = "main"
) -> dict[str, Any]:
    payload = _gitlab(corpora, "set-b/push.json")
    _gitlab_project(payload, repo, project_id)
    payload.update({"ref": f"refs/heads/{branch}", "before": before, "after": after})
    return payload
