"""The command line's progress bar: a ``services.progress.Progress`` callback drawn with tqdm on stderr.

One adapter for every command: ``progress(fraction in [0, 1], message)`` moves the bar to ``fraction`` of its total
(megapixels for prediction, so tqdm shows MP/s and the ETA) and shows the message beside it. It draws nothing when
stderr is not a terminal (pipes, logs, CI) or when the command prints JSON, so stdout keeps exactly the result.
"""
from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm


class ProgressBar:
    """A tqdm bar driven by fractions; call it as a Progress callback, close it (or use ``with``) when done."""

    def __init__(self, desc: str, total: float = 100.0, unit: str = "%", enabled: bool | None = None,
                 stream: IO[str] | None = None):
        stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = _is_terminal(stream)
        self.total = float(total)
        self.bar = tqdm(total=self.total, desc=desc, unit=unit, file=stream, disable=not enabled, leave=True,
                        dynamic_ncols=True, mininterval=0.2,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} "
                                   "[{elapsed}<{remaining}, {rate_fmt}]{postfix}")

    @property
    def enabled(self) -> bool:
        return not self.bar.disable

    def __call__(self, fraction: float, message: str = "") -> None:
        target = min(max(float(fraction), 0.0), 1.0) * self.total
        if message:
            self.bar.set_postfix_str(message, refresh=False)
        if target > self.bar.n:
            self.bar.update(target - self.bar.n)
        else:
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def command_progress(args: Any, desc: str, total: float = 100.0, unit: str = "%") -> ProgressBar:
    """The bar for a command: quiet with ``--json`` (one JSON object is the whole output) or ``--quiet``, and
    whenever stderr is not a terminal."""
    quiet = bool(getattr(args, "json", False) or getattr(args, "quiet", False))
    return ProgressBar(desc, total, unit, enabled=False if quiet else None)
