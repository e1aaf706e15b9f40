"""One progress-bar style for every long job (rich), drawn on stderr so stdout stays clean for results."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress_bar(description: str, total: int):
    """Yield ``advance(k)``: call it as work finishes. Renders to stderr."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), transient=False, console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k=1: bar.advance(task, k)
