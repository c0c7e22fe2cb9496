"""Progress of long CLI work: a rich progress bar on a terminal, plain lines otherwise.

The cores report through a plain callable (``progress("stage")``) and know nothing of this;
the CLI builds a :class:`CliProgress` and passes its :meth:`stage` or :meth:`step` down.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class CliProgress:
    """``with CliProgress("assist review", total=3) as p: p.step("shop.py reviewed")``.

    ``total`` None: stages without a count (a spinner-less bar that only shows the stage).
    """

    def __init__(
        self, label: str, *, total: int | None = None, stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self._bar: Progress | None = None
        self._task: int | None = None

    def __enter__(self) -> CliProgress:
        if self.stream.isatty():
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[stage]}"),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, stage="starting")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def stage(self, text: str) -> None:
        """A new stage of work (no count)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, stage=text)  # type: ignore[arg-type]
        else:
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()

    def step(self, text: str) -> None:
        """One unit of ``total`` done."""
        self.done += 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, stage=text)  # type: ignore[arg-type]
        else:
            count = f"[{self.done}/{self.total}] " if self.total else ""
            self.stream.write(f"{self.label}: {count}{text}\n")
            self.stream.flush()
