"""Errors that know where they happened.

Every mistake a user can make is a ``ConvcalcError`` carrying a ``Location``; the CLI renders it
as ``file:line:column: message``, the source line and a caret, and exits with the error's code.
This module imports nothing of ours, so every other module can raise these.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from .values import value

CARET_CONTEXT = 60  # characters shown either side of an error's column
RUN_LIMIT = 120  # longest run of letters (or of spaces) a message or hint shows before cutting it with '…'
_LONG_RUN = re.compile(rf"[^\s]{{{RUN_LIMIT + 1},}}|[ \t]{{{RUN_LIMIT + 1},}}")


@value
class Location:
    """A place in a spec: file (or ``<string>``), 1-based line and column, and the line itself."""

    file: str
    line: int
    column: int
    source: str = ""
    width: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def caret(self) -> str:
        """The source line with a caret under the located text, or '' when there is no source."""
        if not self.source:
            return ""
        text = self.source.rstrip("\r\n").expandtabs(1)
        start = max(0, self.column - 1 - CARET_CONTEXT)  # a long line is shown around the column
        width = min(max(1, self.width), CARET_CONTEXT)
        end = self.column - 1 + width + CARET_CONTEXT
        shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
        pad = " " * (self.column - 1 - start + (1 if start else 0))
        return f"  {shown}\n  {pad}{'^' * width}"

    def shifted(self, columns: int, width: int = 1) -> "Location":
        """The location ``columns`` characters further along the same line."""
        return Location(self.file, self.line, self.column + columns, self.source, width)


class ConvcalcError(Exception):
    """A user-facing error: bad input (exit 2) unless a subclass says otherwise."""

    exit_code = 2

    def __init__(self, message: str, loc: Optional[Location] = None, hint: str = "") -> None:
        message, hint = clip(message), clip(hint)
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}{self.message}"

    def render(self) -> str:
        """The full message for a terminal: location, message, source line with caret, hint."""
        lines = [f"error: {self}"]
        if self.loc is not None and self.loc.caret():
            lines.append(self.loc.caret())
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint or None,
            "location": location_dict(self.loc),
        }


class SpecError(ConvcalcError):
    """The spec text cannot be read: syntax, unknown names, wrong types or values."""


class ShapeError(ConvcalcError):
    """The spec reads fine but the network does not compute (kernel larger than its input ...)."""


class CheckFailed(ConvcalcError):
    """The network computes, but a check the user asked for fails (``--strict``)."""

    exit_code = 1


class LayerError(ValueError):
    """Raised by a layer rule, which does not know where it is; the engine adds the location."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def location_dict(loc: Optional[Location]) -> Optional[dict[str, object]]:
    if loc is None:
        return None
    return {"file": loc.file, "line": loc.line, "column": loc.column}


def clip(text: str) -> str:
    """``text`` with every unbroken run of characters (or of spaces) over RUN_LIMIT cut in its
    middle with '…', keeping its start and its end (where a path keeps its file name).

    Messages quote what the user wrote; a 20,000-character token or line quoted whole buries
    the message, and the caret line already shows the place. Cutting runs rather than quoted
    passages needs no guess at which apostrophes pair up.
    """

    def cut(m: "re.Match[str]") -> str:
        run = m.group(0)
        tail = RUN_LIMIT // 4
        return f"{run[:RUN_LIMIT - tail]}…{run[-tail:]}"

    return _LONG_RUN.sub(cut, text) if len(text) > RUN_LIMIT else text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " — did you mean 'x'?" suffix, or '' when nothing is close.

    Closeness is the edit distance counting a swap of neighbours as one edit (so 'cnov' is next
    to 'conv' and 'vgg61' to 'vgg16'), at most a third of the word's length.
    """
    import difflib  # only on the way to an error message

    word = word.lower()
    limit = max(1, len(word) // 3)
    # Lengths further apart than the limit are further apart in edits too: leaving them out
    # changes no answer and keeps a 50,000-letter word from being compared letter by letter.
    options = sorted({c for c in choices if abs(len(c) - len(word)) <= limit})
    if not word or not options:
        return ""
    scored = sorted((edit_distance(word, c), sorted(word) != sorted(c),  # a swap beats a new letter
                     -difflib.SequenceMatcher(None, word, c).ratio(), c) for c in options)
    distance, _, _, best = scored[0]
    return f" — did you mean '{best}'?" if distance <= limit else ""


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    if abs(len(a) - len(b)) > 3:
        return abs(len(a) - len(b))
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]
