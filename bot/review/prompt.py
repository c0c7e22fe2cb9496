"""The prompts of a review: shared prefix first (instructions, pull request), then the file."""

from __future__ import annotations

from bot.llm import PromptLayout, Section
from bot.llm.prompts import load
from bot.review.diff import FileDiff, LineKind


def numbered_diff(file: FileDiff) -> str:
    """The file's hunks with new-side line numbers in a left column, as the model sees them."""
    out = [f"--- {file.old_path or '/dev/null'}", f"+++ {file.path}"]
    for hunk in file.hunks:
        out.append(
            f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},"
            f"{hunk.new_length} @@ {hunk.section}".rstrip()
        )
        for line in hunk.lines:
            number = "" if line.kind is LineKind.REMOVED else str(line.new_no)
            out.append(f"{number:>6} {line.kind.value}{line.text}")
    return "\n".join(out)


def review_layout(
    *,
    title: str,
    body: str,
    file: FileDiff,
    instructions: str,
    nonce: str,
    context: str = "",
) -> PromptLayout:
    """One file's review prompt. The pull request text is untrusted data; the repository's
    own instructions (read from its default branch) are trusted guidance."""
    system = load("review.md")
    if instructions.strip():
        system += "\n\nThe repository's maintainers add:\n" + instructions.strip()
    shared = (Section("Pull request", f"{title}\n\n{body}".strip(), kind="pull-request"),)
    specific: tuple[Section, ...] = (
        Section(f"Diff of {file.path}", numbered_diff(file), kind="diff", min_tokens=64),
    )
    if context:
        specific += (Section(f"Code around the change in {file.path}", context, kind="code"),)
    return PromptLayout(instructions=system, shared=shared, specific=specific, nonce=nonce)
