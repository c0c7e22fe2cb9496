"""The prompts of a fix. Pure. The issue, the maintainer's guidance and the repository's code
are untrusted data: each is fenced, and the system prompt says fenced text is never an
instruction. The instructions and the issue come first (a stable prefix for the prefix cache),
the per-call parts (outlines, files) last, so trimming cuts those first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.fix.edits import Rejected
from bot.fix.localise import Candidate
from bot.fix.windows import Window
from bot.llm import Message, PromptLayout, Section, fence
from bot.llm.prompts import load


@dataclass(frozen=True, slots=True)
class IssueText:
    """What the fix is for: the issue, and what the maintainer added to the command."""

    number: int | None
    title: str
    body: str
    guidance: str = ""

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}\n\n{self.guidance}".strip()


def _issue_sections(issue: IssueText, current_diff: str) -> tuple[Section, ...]:
    label = f"Issue #{issue.number}" if issue.number is not None else "Issue"
    sections = [Section(label, f"{issue.title}\n\n{issue.body}".strip(), kind="issue")]
    if issue.guidance.strip():
        sections.append(
            Section("Guidance from the maintainer", issue.guidance.strip(), kind="comment")
        )
    if current_diff.strip():
        sections.append(
            Section("The change so far (already on the branch)", current_diff, kind="diff")
        )
    return tuple(sections)


def locate_layout(
    issue: IssueText,
    outlines: Sequence[tuple[Candidate, str]],
    *,
    nonce: str,
    max_files: int,
    current_diff: str = "",
) -> PromptLayout:
    system = load("fix_locate.md").replace("{max_files}", str(max_files))
    body = "\n\n".join(
        f"{candidate.path}  ({', '.join(candidate.reasons) or 'candidate'})\n{text}"
        for candidate, text in outlines
    )
    return PromptLayout(
        instructions=system,
        shared=_issue_sections(issue, current_diff),
        specific=(Section("Candidate files (outlines)", body, kind="outline", min_tokens=32),),
        nonce=nonce,
    )


def window_layout(
    issue: IssueText,
    windows: Sequence[tuple[Window, str]],
    *,
    nonce: str,
    signatures: str = "",
    notes: Sequence[str] = (),
    current_diff: str = "",
) -> PromptLayout:
    """The edit prompt over windows: ``windows`` (window, its text) in file order, one fenced
    section per file with the gaps between its windows marked ``⋮``;
    ``signatures`` of what they use (the repository's code, fenced); ``notes`` (trusted, ours)
    say what was chosen and why. Windows are never trimmed: they were fitted to the context,
    and an edit must lie inside one."""
    guide = [*notes, "Edit only inside the lines of the code shown below (`⋮` marks a gap)."]
    specific = [Section("Where the fix goes", "\n".join(guide), untrusted=False, trimmable=False)]
    by_file: dict[str, list[tuple[Window, str]]] = {}
    for window, text in windows:
        by_file.setdefault(window.path, []).append((window, text))
    for path, shown in by_file.items():
        parts = "; ".join(window.title().removeprefix(f"{path} ") for window, _ in shown)
        code = "\n⋮\n".join(text for _, text in shown)
        specific.append(Section(f"File {path}: {parts}", code, kind="code", trimmable=False))
    if signatures:
        specific.append(Section("Signatures of what this code uses", signatures, kind="code"))
    return PromptLayout(
        instructions=load("fix_edit.md"),
        shared=_issue_sections(issue, current_diff),
        specific=tuple(specific),
        nonce=nonce,
    )


def retry_message(rejected: Sequence[Rejected], *, nonce: str) -> Message:
    """The one follow-up: each failed edit, why, and the nearest real text (fenced: it is the
    repository's code)."""
    parts = []
    for number, failure in enumerate(rejected, 1):
        block = failure.block
        part = [
            f"### Failed edit {number}: {block.path} ({failure.problem.value})",
            failure.detail,
            "Your SEARCH was:",
            fence(block.search, kind="your-search", nonce=nonce),
        ]
        if failure.nearest:
            part += ["The nearest real text of the file:", fence(failure.nearest, kind="code",
                                                                 nonce=nonce)]  # fmt: skip
        parts.append("\n".join(part))
    return Message("user", load("fix_retry.md").replace("{failures}", "\n\n".join(parts)))
