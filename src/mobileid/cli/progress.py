"""Progress on stderr: a live line on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    def __init__(self, label: str, stream: TextIO | None = None, every_s: float = 5.0):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = 0.2 if self.tty else every_s
        self.start = time.monotonic()
        self.last = 0.0
        self.done_total: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        self.done_total = (done, total)
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        pct = 100.0 * done / total if total else 100.0
        text = f"{self.label}: {done}/{total} ({pct:.0f}%) {rate:.1f}/s, {eta:.0f}s left"
        end = "\r" if self.tty and done < total else "\n"
        self.stream.write(text + (" " * 8 if self.tty else "") + end)
        self.stream.flush()
