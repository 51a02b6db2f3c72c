"""Progress bars that suit where they are shown: a live tqdm bar on a terminal, a few plain log lines
elsewhere (a CI log, a file, a notebook's captured stderr) instead of thousands of carriage returns."""

from __future__ import annotations

import sys

#: Seconds between two lines when the output is not a terminal.
LOG_INTERVAL = 30.0


class _LineWriter:
    """A stream that turns tqdm's carriage-return redraws into whole lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                self.stream.write(line.rstrip() + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable=None, **kwargs):
    """A ``tqdm`` bar (same arguments); off a terminal it prints a line every :data:`LOG_INTERVAL` seconds
    and at the end, and transient bars (``leave=False``) are not shown at all."""
    from tqdm.auto import tqdm

    stream = kwargs.pop("file", None) or sys.stderr
    if not _is_terminal(stream):
        if kwargs.get("leave", True) is False:
            kwargs["disable"] = True
        kwargs.setdefault("mininterval", LOG_INTERVAL)
        kwargs.update(file=_LineWriter(stream), ascii=True, dynamic_ncols=False, ncols=kwargs.get("ncols", 100))
    else:
        kwargs["file"] = stream
    return tqdm(iterable, **kwargs)
