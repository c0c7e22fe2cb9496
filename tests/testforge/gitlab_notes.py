"""GitLab notes, discussions (inline comments with a position) and award emoji."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from tests.testforge.gitlab_api import (
    EMOJI,
    NOTEABLE,
    discussion_json,
    find_mr,
    find_repo,
    note_json,
    noteable_of,
    only,
    require,
    require_write,
    route,
    stamp,
    user_json,
)
from tests.testforge.gitrepo import FilePatch
from tests.testforge.http import HttpError, Request, Response, paginate_gitlab
from tests.testforge.state import Issue, Note, Repo

if TYPE_CHECKING:
    from tests.testforge.server import TestForge


# --- notes and discussions -------------------------------------------------------------------


@route("GET", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/discussions")
def list_discussions(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    noteable = noteable_of(repo, p)
    threads: dict[str, list[Note]] = {}
    for note in repo.notes:
        if note.number == noteable.number:
            threads.setdefault(note.thread, []).append(note)
    return paginate_gitlab(
        req,
        list(threads.values()),
        f"{req.base_url}/projects/{repo.id}/{p['kind']}/{noteable.number}/discussions",
        lambda notes: discussion_json(forge, repo, notes, noteable),
    )


def _check_position(
    forge: TestForge, repo: Repo, position: dict[str, Any]
) -> tuple[int, int | None]:
    require(position, "base_sha", "start_sha", "head_sha", "position_type")
    bad = HttpError(
        400,
        {
            "message": '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a '
            'valid line code"], :position=>["is incomplete"]}'
        },
    )
    for key in ("base_sha", "start_sha", "head_sha"):
        if not repo.git.object_exists(position[key]):
            raise bad
    if (
        position["position_type"] != "text"
        or not position.get("new_path")
        or not position.get("new_line")
    ):
        raise bad
    _, files = forge.diff(repo, position["base_sha"], position["head_sha"])
    target = next((f for f in files if f.path == position["new_path"]), None)
    line = int(position["new_line"])
    if target is None or target.hunk_of(line) is None:
        raise bad
    only(forge, position, "position")
    start = None
    line_range = position.get("line_range")
    if line_range:
        for end in ("start", "end"):
            only(forge, line_range[end], "line_range_end")
            _check_line_code(forge, target, position["new_path"], line_range[end])
        start = int(line_range["start"]["new_line"])
        end_line = int(line_range["end"]["new_line"])
        if end_line != line or start > end_line or target.hunk_of(start) != target.hunk_of(line):
            raise bad
    return line, start


def _check_line_code(forge: TestForge, target: FilePatch, path: str, point: dict[str, Any]) -> None:
    """A line_range end's ``line_code`` is sha1(path)_old_new, as GitLab's diff parser counts."""
    new_line = int(point["new_line"])
    expected = (
        f"{hashlib.sha1(path.encode()).hexdigest()}_{target.old_line_at(new_line)}_{new_line}"
    )
    if point.get("line_code") != expected or point.get("type") != "new":
        forge._violations.append(
            f"GitLab line_range: line_code {point.get('line_code')!r}, expected {expected!r}"
        )


@route("POST", "/projects/{id}/merge_requests/(?P<iid>\\d+)/discussions")
def create_discussion(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    mr = find_mr(repo, p["iid"])
    data = req.json()
    require(data, "body")
    only(forge, data, "discussion")
    position = data.get("position")
    if position is not None and not isinstance(position, dict):
        forge._violations.append("discussion position must be a JSON object")
        raise HttpError(400, {"error": "position is invalid"})
    note = None
    if position:
        line, start = _check_position(forge, repo, position)
        note = forge.add_note(repo, mr.number, req.login, data["body"], kind="review")
        note.position = position
        note.path, note.line, note.start_line, note.side = (
            position["new_path"],
            line,
            start,
            "RIGHT",
        )
        note.commit_id = position["head_sha"]
    else:
        note = forge.add_note(repo, mr.number, req.login, data["body"])
        note.in_reply_to = 0  # a thread, not an individual note
    return Response(201, discussion_json(forge, repo, [note], mr))


@route("POST", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/discussions/(?P<did>[0-9a-f]+)/notes")
def reply_discussion(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    noteable = noteable_of(repo, p)
    data = req.json()
    require(data, "body")
    only(forge, data, "discussion_note")
    thread = [n for n in repo.notes if n.thread == p["did"] and n.number == noteable.number]
    if not thread:
        raise HttpError(404, {"message": "404 Discussion Not Found"})
    note = forge.add_note(
        repo, noteable.number, req.login, data["body"], kind=thread[0].kind, thread=p["did"]
    )
    note.in_reply_to = thread[0].id
    note.path, note.line, note.position = thread[0].path, thread[0].line, thread[0].position
    return Response(201, note_json(forge, repo, note, noteable))


@route("POST", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/notes")
def create_note(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    require_write(forge, req, repo)
    noteable = noteable_of(repo, p)
    data = req.json()
    require(data, "body")
    only(forge, data, "note")
    note = forge.add_note(repo, noteable.number, req.login, data["body"])
    return Response(201, note_json(forge, repo, note, noteable))


def _find_note(repo: Repo, noteable: Issue, note_id: str) -> Note:
    for note in repo.notes:
        if note.id == int(note_id) and note.number == noteable.number:
            return note
    raise HttpError(404, {"message": "404 Not found"})


@route("PUT", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/notes/(?P<note_id>\\d+)")
def update_note(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    noteable = noteable_of(repo, p)
    note = _find_note(repo, noteable, p["note_id"])
    if note.author != req.login:
        raise HttpError(403, {"message": "403 Forbidden"})
    data = req.json()
    require(data, "body")
    only(forge, data, "note_update")
    note.body = data["body"]
    note.updated_at = stamp()
    return Response(200, note_json(forge, repo, note, noteable))


@route("POST", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/notes/(?P<note_id>\\d+)/award_emoji")
def award_emoji(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    noteable = noteable_of(repo, p)
    note = _find_note(repo, noteable, p["note_id"])
    data = req.json()
    require(data, "name")
    only(forge, data, "award_emoji")
    content = EMOJI.get(data["name"], data["name"])
    if (req.login, content) in note.reactions:
        raise HttpError(404, {"message": "404 Award Emoji Name has already been taken"})
    note.reactions.append((req.login, content))
    return Response(
        201,
        {
            "id": forge.next_id(),
            "name": data["name"],
            "user": user_json(forge, req.login),
            "created_at": stamp(),
            "updated_at": stamp(),
            "awardable_id": note.id,
            "awardable_type": "Note",
        },
    )


@route("GET", f"/projects/{{id}}/{NOTEABLE}/(?P<iid>\\d+)/notes/(?P<note_id>\\d+)/award_emoji")
def list_award_emoji(forge: TestForge, req: Request, p: dict[str, str]) -> Response:
    repo = find_repo(forge, p)
    noteable = noteable_of(repo, p)
    note = _find_note(repo, noteable, p["note_id"])
    names = {v: k for k, v in EMOJI.items()}
    items = [
        {
            "id": index + 1,
            "name": names.get(content, content),
            "user": user_json(forge, login),
            "created_at": note.created_at,
            "updated_at": note.updated_at,
            "awardable_id": note.id,
            "awardable_type": "Note",
        }
        for index, (login, content) in enumerate(note.reactions)
    ]
    url = f"{req.base_url}/projects/{p['id']}/{p['kind']}/{p['iid']}"
    return paginate_gitlab(req, items, f"{url}/notes/{note.id}/award_emoji")
