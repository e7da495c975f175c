"""Errors that know where they happened.

Every mistake a user can make is a ``ConvcalcError`` carrying a ``Location``; the CLI renders it
as ``file:line:column: message``, the source line and a caret, and exits with the error's code.
This module imports nothing of ours, so every other module can raise these.

It also owns how text a user or a model file wrote is *shown*: ``shown`` writes every control
character as ``\\xNN``. Names, titles, file names and notes pass through the readers unchanged
(a title may hold anything YAML can spell), so the escaping belongs at the edge where such text
meets a terminal or a text format, applied once by each renderer as it writes: ``render`` here
for messages, report/grid.py for the table (text and SVG), the Markdown, CSV, HTML and check
writers line by line, draw/ for every SVG text and attribute, ``convcalc import`` for its
comments. Escaping earlier would change the names the engine compares and JSON reports; JSON
escapes control characters by itself, and YAML scalars are written as JSON strings.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from .values import value

CARET_CONTEXT = 60  # characters shown either side of an error's column
RUN_LIMIT = 120  # longest run of letters (or of spaces) a message or hint shows before cutting it with '…'
_LONG_RUN = re.compile(rf"[^\s]{{{RUN_LIMIT + 1},}}|[ \t]{{{RUN_LIMIT + 1},}}")
# What a terminal acts on or XML 1.0 forbids: the C0 controls (tab and newline too: in a name they
# break a table's lines), DEL, the C1 controls (U+009B starts an escape sequence on many
# terminals), lone surrogates (a model file's undecodable bytes) and U+FFFE, U+FFFF.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@value
class Location:
    """A place in a spec: file (or ``<string>``), 1-based line and column, and the line itself."""

    file: str
    line: int
    column: int
    source: str = ""
    width: int = 1

    def __str__(self) -> str:
        return f"{shown(self.file)}:{self.line}:{self.column}"

    def caret(self) -> str:
        """The source line with a caret under the located text, or '' when there is no source."""
        if not self.source:
            return ""
        text = self.source.rstrip("\r\n").expandtabs(1)
        start = max(0, self.column - 1 - CARET_CONTEXT)  # a long line is shown around the column
        width = min(max(1, self.width), CARET_CONTEXT)
        end = self.column - 1 + width + CARET_CONTEXT
        # Control characters are shown as \\xNN, so the caret is placed under what is shown.
        raw = text[self.column - 1:self.column - 1 + width]
        before, marked = shown(text[start:self.column - 1]), shown(raw)
        line = ("…" if start else "") + before + marked + shown(text[self.column - 1 + width:end]) \
            + ("…" if end < len(text) else "")
        pad = " " * (len(before) + (1 if start else 0))
        return f"  {line}\n  {pad}{'^' * min(width + len(marked) - len(raw), CARET_CONTEXT)}"

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
        return f"{where}{shown(self.message, keep=chr(10))}"

    def render(self) -> str:
        """The full message for a terminal: location, message, source line with caret, hint;
        what the user wrote is quoted with its control characters shown (``shown``)."""
        lines = [f"error: {self}"]
        if self.loc is not None and self.loc.caret():
            lines.append(self.loc.caret())
        if self.hint:
            lines.append(f"  hint: {shown(self.hint, keep=chr(10))}")
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


def shown(text: str, keep: str = "") -> str:
    """``text`` as it may be written to a terminal or an XML file: each control character (C0,
    DEL, C1), lone surrogate and U+FFFE/U+FFFF as ``\\xNN`` (``\\uNNNN`` above U+00FF), except
    those in ``keep`` (a message's own line breaks). Backslashes are left alone, so a Windows path
    reads as written and showing shown text again changes nothing.
    """

    if text.isprintable():  # nothing to show differently (the common case, at C speed)
        return text

    def escaped(m: "re.Match[str]") -> str:
        c = m.group(0)
        if c in keep:
            return c
        return f"\\x{ord(c):02x}" if ord(c) <= 0xFF else f"\\u{ord(c):04x}"

    return _UNSHOWN.sub(escaped, text)


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
