"""Progress of long work (decoding a folder, extracting features, tokenizing, training steps).

On a terminal: a rich bar. When the output is a log file or a pipe, a bar would be control codes
or nothing at all until the end, so plain lines are written instead: the first unit of work, then
about every `LOG_EVERY_S` seconds, and the end:

    decoding images 120000/1000000 (12%)  elapsed 1m02s  eta 7m35s

    >>> with progress("decoding images", total=len(paths)) as advance:
    ...     for chunk in chunks: work(chunk); advance(len(chunk))
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

LOG_EVERY_S = 30.0


class PlainLog:
    """Progress as plain lines for a log file: the first unit, then every `every_s` seconds, and the last."""

    def __init__(self, stream: TextIO, total: int, start_step: int, every_s: float, label: str = "step") -> None:
        self.stream, self.total, self.every_s, self.label = stream, total, every_s, label
        self.start_count, self.start = start_step, time.monotonic()
        self.last_step, self.last_time = start_step, -float("inf")

    def due(self, done: int) -> bool:
        return done > self.last_step and (done >= self.total or time.monotonic() - self.last_time >= self.every_s)

    def write(self, done: int, figures: str = "") -> None:
        now = time.monotonic()
        elapsed = now - self.start
        eta = elapsed / (done - self.start_count) * (self.total - done) if done > self.start_count else None
        share = f" ({100 * done // self.total}%)" if self.total > 0 else ""
        parts = [f"{self.label} {done}/{self.total}{share}", figures, f"elapsed {duration(elapsed)}",
                 f"eta {duration(eta)}" if eta is not None else ""]
        print("  ".join(p for p in parts if p), file=self.stream, flush=True)
        self.last_step, self.last_time = done, now


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@contextlib.contextmanager
def progress(description: str, total: int, *, enabled: bool = True, transient: bool = False,
             stream: TextIO | None = None, every_s: float = LOG_EVERY_S) -> Iterator[Callable[[int], None]]:
    """A context giving `advance(n)`: a rich bar on a terminal, plain lines elsewhere, nothing when
    not `enabled`."""
    stream = stream or sys.stdout
    if not enabled:
        yield lambda n: None
        return
    if not stream.isatty():
        log, done = PlainLog(stream, total, 0, every_s, label=description), 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if log.due(done):
                log.write(done)

        yield advance
        if done and log.last_step != done:
            log.write(done)
        return
    from rich.progress import Progress  # a terminal only

    with Progress(transient=transient) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
