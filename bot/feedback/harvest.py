"""Read the feedback the forge holds on our findings (reactions, replies, thread state) and
record it: on each new review of a change and when it is merged or closed. GitHub sends no
webhook for reactions; GitLab sends none for resolved discussions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from bot.domain import RepoRef
from bot.feedback.outcome import Kind
from bot.feedback.store import Observed, SqlFeedback
from bot.forge.protocol import Forge
from bot.forge.types import Comment, FindingThread
from bot.review.comments import marked_fingerprints
from bot.review.memory import ChangeKey

FINDING_MARKER = "<!-- forge-assist:finding:"


def is_ours(comment: Comment, finding: Comment, own_logins: Collection[str]) -> bool:
    """Written by this bot: the finding's own author (the finding is ours, read as written
    by our identity) or a configured bot login. Never by a marker in the text: anyone can
    write one, e.g. to pass a reply off as our answer so the bot stays silent."""
    author = comment.author.lower()
    return author == finding.author.lower() or author in {login.lower() for login in own_logins}


def thread_signals(
    threads: Iterable[FindingThread],
    own_logins: Collection[str],
    can_write: Callable[[str], bool | None] = lambda _user: None,
) -> list[Observed]:
    """The signals in these threads, our own replies and reactions left out."""
    out: list[Observed] = []
    for thread in threads:
        finding = thread.comment
        for fp in marked_fingerprints([finding.body]):
            for user, content in thread.reactions:
                if user.lower() == finding.author.lower() or user.lower() in own_logins:
                    continue
                out.append(
                    Observed(
                        fp,
                        Kind.REACTION,
                        f"reaction:{user}:{content}",
                        content,
                        user,
                        can_write(user),
                    )
                )
            for reply in thread.replies:
                if is_ours(reply, finding, own_logins):
                    continue
                out.append(
                    Observed(
                        fp,
                        Kind.REPLY,
                        f"reply:{reply.id}",
                        reply.body,
                        reply.author,
                        can_write(reply.author),
                    )
                )
            if thread.resolved is not None:
                state = "resolved" if thread.resolved else "unresolved"
                out.append(Observed(fp, Kind.THREAD, f"thread:{state}", state))
    return out


def harvest(
    forge: Forge,
    store: SqlFeedback,
    repo: RepoRef,
    number: int,
    *,
    own_logins: Collection[str] = (),
    closed: str | None = None,
) -> int:
    """Record what the forge shows about this change's findings (and, with ``closed``:
    ``merged`` or ``closed``, that the change ended); returns how many signals were new."""
    change = ChangeKey(repo.forge, repo.path, number)
    known = store.known(change)
    if not known:
        return 0
    own = {login.lower() for login in own_logins}
    threads = forge.finding_threads(repo, number, marker=FINDING_MARKER)
    writers: dict[str, bool | None] = {}

    def can_write(user: str) -> bool | None:
        if user not in writers:
            try:
                writers[user] = forge.permission(repo, user).can_write
            except Exception:  # a stat, not a decision: unknown is fine
                writers[user] = None
        return writers[user]

    observed = thread_signals(threads, own, can_write)
    if closed:
        observed += [Observed(fp, Kind.CLOSED, "closed", closed) for fp in known]
    return store.record(change, observed, source="harvest")
