"""The progress callback every long service takes: ``progress(fraction in [0, 1], message)``.

The command line draws it as a tqdm bar (``cli.progress.ProgressBar``), the worker as the job's progress row."""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that reports nothing."""
