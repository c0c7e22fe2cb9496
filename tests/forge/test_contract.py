"""The Forge contract: every operation, against both adapters, through the real PyGithub and
python-gitlab HTTP code, on the test forge."""

from __future__ import annotations

import pytest

from bot.forge import (
    ChangeProposal,
    Comment,
    CommitStatus,
    FileChange,
    NotFound,
    Permission,
    PermissionDenied,
    Reaction,
    Review,
    ReviewComment,
    StatusState,
    hidden_marker,
)
from tests.forge.conftest import REPO, Env, token_forge

SUMMARY = hidden_marker("summary")


def test_get_change(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    pull = env.server.pull(REPO, env.number)
    assert (change.number, change.title, change.body) == (
        env.number,
        "Improve widgets",
        "Please review",
    )
    assert change.author == "alice"
    assert (change.base_ref, change.head_ref) == ("main", "feature")
    assert change.state == "open"
    assert change.draft is False
    assert change.head_sha == pull["head_sha"]
    assert change.diff_refs.start_sha == pull["start_sha"]
    if env.kind == "gitlab":
        assert change.diff_refs.base_sha == pull["base_sha"]


def test_get_change_states(env: Env) -> None:
    env.server.close(REPO, env.number, merged=True)
    assert env.forge.get_change(env.repo, env.number).state == "merged"
    env.server.commit(REPO, "other", {"x.txt": "x\n"})
    other = env.server.add_pull(REPO, head="other", draft=True)
    assert env.forge.get_change(env.repo, other).draft is True
    env.server.close(REPO, other)
    assert env.forge.get_change(env.repo, other).state == "closed"
    issue = env.server.add_issue(REPO, "Done already")
    env.server.close(REPO, issue)
    assert env.forge.get_issue(env.repo, issue).state == "closed"


def test_list_changes_by_state_newest_first(env: Env) -> None:
    env.server.commit(REPO, "other", {"x.txt": "x\n"})
    other = env.server.add_pull(REPO, head="other", title="Other")
    env.server.commit(REPO, "third", {"y.txt": "y\n"})
    third = env.server.add_pull(REPO, head="third", title="Third")
    env.server.close(REPO, env.number, merged=True)
    env.server.close(REPO, third, merged=True)
    env.server.close(REPO, other)
    merged = env.forge.list_changes(env.repo)
    assert [(c.number, c.state) for c in merged] == [(third, "merged"), (env.number, "merged")]
    assert merged[1].head_sha == env.server.pull(REPO, env.number)["head_sha"]
    assert [c.number for c in env.forge.list_changes(env.repo, limit=1)] == [third]
    assert [c.number for c in env.forge.list_changes(env.repo, state="closed")] == [other]
    assert env.forge.list_changes(env.repo, state="open") == ()


def test_line_comments_are_where_they_were_made(env: Env) -> None:
    made_on = env.server.pull(REPO, env.number)["head_sha"]
    first = env.server.add_comment(
        REPO, env.number, "rename this", author="maintainer", path="src/app.py", line=11
    )
    env.server.reply(REPO, first, "a reply is not a line comment")
    env.server.add_comment(REPO, env.number, "a conversation comment", author="maintainer")
    env.server.commit(REPO, "feature", {"README.md": "# widgets!\n"}, "Later push")
    (comment,) = env.forge.line_comments(env.repo, env.number)
    assert (comment.id, comment.path, comment.line, comment.start_line, comment.side) == (
        first, "src/app.py", 11, None, "RIGHT",
    )  # fmt: skip
    assert comment.commit == made_on  # not the head after the later push
    assert (comment.author, comment.body, comment.author_is_bot) == (
        "maintainer", "rename this", False,
    )  # fmt: skip


def test_get_change_missing_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        env.forge.get_change(env.repo, 999)


def test_get_diff_lists_files_with_patches_and_whole_diff(env: Env) -> None:
    diff = env.forge.get_diff(env.repo, env.number)
    files = {f.path: f for f in diff.files}
    assert set(files) == {"src/app.py", "docs/new.md", "gone.txt", "new_name.txt"}
    assert files["docs/new.md"].status == "added"
    assert files["gone.txt"].status == "removed"
    assert files["new_name.txt"].status == "renamed"
    assert files["new_name.txt"].old_path == "old_name.txt"
    app = files["src/app.py"]
    assert app.status == "modified"
    assert app.patch is not None
    assert app.patch.count("@@ -") == 2
    assert "+changed 11" in app.patch
    assert "-line 11" in app.patch
    assert (app.additions, app.deletions) == (4, 3)
    assert "diff --git a/src/app.py b/src/app.py" in diff.unified
    assert "+++ b/docs/new.md" in diff.unified
    assert "+inserted" in diff.unified


def test_read_file_at_ref(env: Env) -> None:
    assert env.forge.read_file(env.repo, "docs/new.md", ref="feature") == b"new doc\nsecond line\n"
    assert env.forge.read_file(env.repo, "src/app.py", ref="main").startswith(b"line 1\n")
    with pytest.raises(NotFound):
        env.forge.read_file(env.repo, "docs/new.md", ref="main")


def test_read_a_file_over_one_megabyte(env: Env) -> None:
    big = "".join(f"{i:07d} lorem ipsum dolor sit amet\n" for i in range(60_000))  # ~2 MB
    env.server.commit(REPO, "feature", {"data/big.txt": big}, "Add a big file")
    assert env.forge.read_file(env.repo, "data/big.txt", ref="feature") == big.encode()


def test_get_issue(env: Env) -> None:
    number = env.server.add_issue(REPO, "Crash on start", "Steps: run it", author="bob")
    issue = env.forge.get_issue(env.repo, number)
    assert (issue.number, issue.title, issue.body, issue.author, issue.state) == (
        number,
        "Crash on start",
        "Steps: run it",
        "bob",
        "open",
    )


def test_post_review_with_single_and_multi_line_comments(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    review = Review(
        body="Two findings.",
        comments=(
            ReviewComment("src/app.py", 11, "single line"),
            ReviewComment("src/app.py", 12, "a range", start_line=10),
            ReviewComment("docs/new.md", 2, "new file"),
        ),
    )
    result = env.forge.post_review(change, review)
    assert result.rejected == ()
    assert [c.body for c in result.posted] == ["single line", "a range", "new file"]
    assert all(c.kind == "review" and c.author == env.bot for c in result.posted)
    inline = env.server.comments(REPO, env.number, kind="review")
    located = {(n["path"], n["start_line"], n["line"], n["body"]) for n in inline}
    assert located == {
        ("src/app.py", None, 11, "single line"),
        ("src/app.py", 10, 12, "a range"),
        ("docs/new.md", None, 2, "new file"),
    }
    assert all(n["side"] == "RIGHT" and n["commit_id"] == change.head_sha for n in inline)
    if env.kind == "github":
        reviews = env.server.reviews(REPO, env.number)
        assert len(reviews) == 1
        assert reviews[0]["body"] == "Two findings."
        assert reviews[0]["state"] == "COMMENTED"
        assert result.batched
    else:
        positions = [n["position"] for n in inline]
        refs = change.diff_refs
        assert all(
            (p["base_sha"], p["start_sha"], p["head_sha"])
            == (refs.base_sha, refs.start_sha, refs.head_sha)
            for p in positions
        )
        ranged = next(p for p in positions if "line_range" in p)
        assert ranged["line_range"]["start"]["new_line"] == 10
        assert ranged["line_range"]["end"]["new_line"] == 12
        notes = env.server.comments(REPO, env.number, kind="issue")
        assert [n["body"] for n in notes] == ["Two findings."]


def test_review_rejected_batch_falls_back_and_returns_rejected(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    outside = ReviewComment("src/app.py", 3, "line 3 is not in the diff")
    unknown = ReviewComment("nope.py", 1, "no such file")
    split = ReviewComment("src/app.py", 30, "range across hunks", start_line=11)
    good = ReviewComment("src/app.py", 30, "on the inserted line")
    result = env.forge.post_review(
        change, Review(body="Summary", comments=(outside, good, unknown, split))
    )
    assert result.batched is False
    assert [c.body for c in result.posted] == ["on the inserted line"]
    assert set(result.rejected) == {outside, unknown, split}
    inline = env.server.comments(REPO, env.number, kind="review")
    assert [n["body"] for n in inline] == ["on the inserted line"]


def test_upsert_comment_creates_then_edits_in_place(env: Env) -> None:
    env.server.add_comment(REPO, env.number, f"a user quoting {SUMMARY}", author="mallory")
    first = env.forge.upsert_comment(env.repo, env.number, marker=SUMMARY, body="Review: 2 issues")
    second = env.forge.upsert_comment(env.repo, env.number, marker=SUMMARY, body="Review: fixed")
    assert first.id == second.id
    ours = [n for n in env.server.comments(REPO, env.number) if n["author"] == env.bot]
    assert len(ours) == 1
    assert ours[0]["body"] == f"Review: fixed\n\n{SUMMARY}"
    mallory = next(n for n in env.server.comments(REPO, env.number) if n["author"] == "mallory")
    assert mallory["body"] == f"a user quoting {SUMMARY}"


def test_upsert_comment_on_an_issue(env: Env) -> None:
    number = env.server.add_issue(REPO, "Bug", "broken")
    env.forge.upsert_comment(env.repo, number, marker=SUMMARY, body="Working on it", on="issue")
    env.forge.upsert_comment(env.repo, number, marker=SUMMARY, body="Opened a fix", on="issue")
    notes = env.server.comments(REPO, number)
    assert [n["body"] for n in notes] == [f"Opened a fix\n\n{SUMMARY}"]
    listed = env.forge.list_comments(env.repo, number, marker=SUMMARY, on="issue")
    assert [c.body for c in listed] == [f"Opened a fix\n\n{SUMMARY}"]


def test_list_comments_returns_ours_only(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    env.server.add_comment(REPO, env.number, "human remark", author="alice")
    env.forge.post_review(change, Review("", (ReviewComment("src/app.py", 11, "inline"),)))
    env.forge.upsert_comment(env.repo, env.number, marker=SUMMARY, body="summary")
    ours = env.forge.list_comments(env.repo, env.number)
    assert sorted((c.kind, c.body) for c in ours) == [
        ("issue", f"summary\n\n{SUMMARY}"),
        ("review", "inline"),
    ]
    inline = next(c for c in ours if c.kind == "review")
    assert (inline.path, inline.line) == ("src/app.py", 11)
    marked = env.forge.list_comments(env.repo, env.number, marker=SUMMARY)
    assert [c.kind for c in marked] == ["issue"]


def _from_webhook(env: Env, comment_id: int) -> Comment:
    """The comment as a pipeline gets it from the webhook payload (GitLab's note hook carries
    the ``discussion_id``)."""
    note = next(n for n in env.server.comments(REPO, env.number) if n["id"] == comment_id)
    thread = note["thread"] if env.kind == "gitlab" else str(note["in_reply_to"] or note["id"])
    return Comment(
        id=note["id"],
        kind=note["kind"],
        number=env.number,
        author=note["author"],
        body=note["body"],
        path=note["path"],
        line=note["line"],
        thread_id=thread,
    )


def test_respond_reacts_and_replies_to_a_command(env: Env) -> None:
    command_id = env.server.add_comment(REPO, env.number, "/assist review", author="alice")
    command = _from_webhook(env, command_id)
    assert env.forge.respond(env.repo, command, reaction=Reaction.EYES) is None
    reply = env.forge.respond(env.repo, command, body="On it.")
    assert reply is not None
    assert reply.author == env.bot
    assert "On it." in reply.body
    stored = {n["id"]: n for n in env.server.comments(REPO, env.number)}
    assert [tuple(r) for r in stored[command_id]["reactions"]] == [(env.bot, "eyes")]
    assert stored[reply.id]["body"] == reply.body
    # acknowledging twice is harmless
    env.forge.respond(env.repo, command, reaction=Reaction.EYES)
    stored = {n["id"]: n for n in env.server.comments(REPO, env.number)}
    assert len(stored[command_id]["reactions"]) == 1


def test_respond_in_a_review_thread(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    result = env.forge.post_review(
        change, Review("", (ReviewComment("src/app.py", 11, "finding"),))
    )
    finding = result.posted[0]
    reply = env.forge.respond(env.repo, finding, body="Still open?", reaction=Reaction.THUMBS_UP)
    assert reply is not None
    assert reply.kind == "review"
    assert reply.thread_id == finding.thread_id
    inline = env.server.comments(REPO, env.number, kind="review")
    assert [n["body"] for n in inline] == ["finding", "Still open?"]
    assert inline[0]["thread"] == inline[1]["thread"]
    assert [tuple(r) for r in inline[0]["reactions"]] == [(env.bot, "+1")]


def test_set_status(env: Env) -> None:
    change = env.forge.get_change(env.repo, env.number)
    env.forge.set_status(
        env.repo,
        CommitStatus(
            change.head_sha,
            StatusState.PENDING,
            "forge-assist/review",
            description="Reviewing",
            target_url="https://assist.example/jobs/1",
        ),
    )
    env.forge.set_status(
        env.repo, CommitStatus(change.head_sha, StatusState.SUCCESS, "forge-assist/review")
    )
    statuses = env.server.statuses(REPO, change.head_sha)
    assert [(s["state"], s["context"]) for s in statuses] == [
        ("pending", "forge-assist/review"),
        ("success", "forge-assist/review"),
    ]
    assert statuses[0]["target_url"] == "https://assist.example/jobs/1"
    assert statuses[0]["description"] == "Reviewing"


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", Permission.ADMIN),
        ("maintain", Permission.MAINTAIN),
        ("write", Permission.WRITE),
        ("triage", Permission.TRIAGE),
        ("read", Permission.READ),
    ],
)
def test_permission(env: Env, role: str, expected: Permission) -> None:
    env.server.set_permission(REPO, "carol", role)
    assert env.forge.permission(env.repo, "carol") == expected
    assert env.forge.permission(env.repo, "carol").can_write == (expected >= Permission.WRITE)


def test_permission_of_strangers_is_none(env: Env) -> None:
    env.server.add_user("stranger")
    assert env.forge.permission(env.repo, "stranger") == Permission.NONE
    assert env.forge.permission(env.repo, "no-such-user") == Permission.NONE


def test_open_change_commits_files_and_links_issue(env: Env) -> None:
    issue = env.server.add_issue(REPO, "README is terse", "say more")
    proposal = ChangeProposal(
        branch="assist/fix-readme",
        base="main",
        title="Expand the README",
        body="Generated fix.",
        commit_message="docs: expand README",
        files=(
            FileChange("README.md", b"# widgets\n\nMore words.\n"),
            FileChange("docs/guide/intro.md", b"intro\n"),
            FileChange("gone.txt", None),
        ),
        issue=issue,
    )
    change = env.forge.open_change(env.repo, proposal)
    assert change.draft is True
    assert (change.head_ref, change.base_ref) == ("assist/fix-readme", "main")
    assert f"Closes #{issue}" in change.body
    assert change.author == env.bot
    refs = env.server.refs(REPO)
    assert refs["assist/fix-readme"] == change.head_sha
    assert env.server.read(REPO, "assist/fix-readme", "README.md") == "# widgets\n\nMore words.\n"
    assert env.server.read(REPO, "assist/fix-readme", "docs/guide/intro.md") == "intro\n"
    assert env.server.read(REPO, "assist/fix-readme", "gone.txt") is None
    assert env.server.read(REPO, "assist/fix-readme", "src/app.py") is not None
    pull = env.server.pull(REPO, change.number)
    assert pull["draft"] is True
    # idempotent: a second run finds the open change instead of opening another
    again = env.forge.open_change(env.repo, proposal)
    assert again.number == change.number
    assert len(env.server.pulls(REPO)) == 2


def test_open_change_for_a_pushed_branch(env: Env, tmp_path: object) -> None:
    import subprocess
    from pathlib import Path

    work = Path(str(tmp_path)) / "clone"
    url = env.forge.clone_url(env.repo)
    assert url.get_secret_value() not in repr(url)
    assert url.get_secret_value() not in str(url)
    git_env = {
        "GIT_AUTHOR_NAME": "bot",
        "GIT_AUTHOR_EMAIL": "bot@example.test",
        "GIT_COMMITTER_NAME": "bot",
        "GIT_COMMITTER_EMAIL": "bot@example.test",
        "GIT_TERMINAL_PROMPT": "0",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        ["git", "clone", "-q", url.get_secret_value(), str(work)], check=True, env=git_env
    )
    (work / "src" / "app.py").write_text("rewritten\n")
    subprocess.run(
        ["git", "checkout", "-q", "-b", "assist/pushed"], cwd=work, check=True, env=git_env
    )
    subprocess.run(["git", "commit", "-qam", "Rewrite"], cwd=work, check=True, env=git_env)
    subprocess.run(
        ["git", "push", "-q", "origin", "assist/pushed"], cwd=work, check=True, env=git_env
    )
    change = env.forge.open_change(
        env.repo,
        ChangeProposal(branch="assist/pushed", base="main", title="Rewrite", body="", draft=False),
    )
    assert change.draft is False
    assert env.server.read(REPO, change.head_sha, "src/app.py") == "rewritten\n"
    diff = env.forge.get_diff(env.repo, change.number)
    assert [f.path for f in diff.files] == ["src/app.py"]


def test_clone_with_a_wrong_token_is_refused(env: Env, tmp_path: object) -> None:
    import subprocess

    url = env.forge.clone_url(env.repo).get_secret_value()
    scheme, rest = url.split("://", 1)
    secret = rest.split("@", 1)[0].split(":", 1)[1]
    bad = url.replace(secret, "wrong-token")
    result = subprocess.run(
        ["git", "clone", "-q", bad, f"{tmp_path}/x"],
        capture_output=True,
        env={"GIT_TERMINAL_PROMPT": "0", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode != 0
    assert scheme == "http"


def test_writes_without_permission_raise_permission_denied(env: Env) -> None:
    token = env.server.add_user("reader", token="reader-token-0123456789", read_only=True)
    reader = token_forge(env, token)
    with pytest.raises(PermissionDenied):
        reader.upsert_comment(env.repo, env.number, marker=SUMMARY, body="nope")
    assert env.server.comments(REPO, env.number) == []


def test_open_change_replaces_a_stale_branch(env: Env) -> None:
    stale = env.server.commit(REPO, "assist/fix-9", {"stale.txt": "old attempt\n"}, "Old")
    change = env.forge.open_change(
        env.repo,
        ChangeProposal(
            branch="assist/fix-9",
            base="main",
            title="Second attempt",
            body="",
            files=(FileChange("README.md", b"# widgets, again\n"),),
        ),
    )
    assert change.head_sha != stale
    assert env.server.read(REPO, "assist/fix-9", "stale.txt") is None
    assert env.server.read(REPO, "assist/fix-9", "README.md") == "# widgets, again\n"
    assert env.server.pull(REPO, change.number)["base_sha"] == env.server.refs(REPO)["main"]


def test_reply_to_our_own_fresh_comment(env: Env) -> None:
    summary = env.forge.upsert_comment(env.repo, env.number, marker=SUMMARY, body="Summary")
    reply = env.forge.respond(env.repo, summary, body="Follow-up")
    assert reply is not None
    assert reply.body.endswith("Follow-up")
    assert SUMMARY not in reply.body  # a reply never carries the marker it quotes
    bodies = [n["body"] for n in env.server.comments(REPO, env.number)]
    assert len(bodies) == 2
