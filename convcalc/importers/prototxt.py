"""Protobuf *text* format (Caffe's prototxt) read into generic messages, in memory that follows
the fields read, not the text.

The format is a few token kinds (identifiers, numbers, quoted strings, ``{ } < > [ ] :`` and
``#`` comments; ``,`` and ``;`` separate like spaces). A message is read generically: every field,
known or not, is kept in file order, repeated fields as several entries, so a field of
``caffe.proto`` convcalc does not use still parses; its reader looks only at the fields it counts.

Memory and time are held to what is read, whatever the text (README "Limits"):

- Tokens are matched one at a time and never gathered into a list; a whole ``name: value`` with
  a number, a name or a string is one match, the most common field. A quoted string is matched a
  bounded number of escapes at a time: one regular expression over the whole string costs the
  ``re`` engine about 190 bytes a character (8 MB of string took 1.6 GB).
- A field keeps its name (one shared string per name), its value and three integers in an
  ``array`` (offset, line, width): about 40 bytes; a message about 300 (80 while empty). Where a field is
  written (a ``Location`` with its line's text) is worked out only when asked for, from the
  offset and line, one shared copy of each line asked about.
- At most ``MAX_PROTOTXT_FIELDS`` fields (a message and each item of a ``[...]`` list count as
  one), at most ``MAX_NESTING`` messages deep, numbers of at most ``MAX_DIGITS`` characters, and
  at most a given count of some top-level field (Caffe's ``layer``: ``MAX_LAYERS``); each is
  checked as the field is read, so a hostile file is refused at the field that goes past it.
"""

from __future__ import annotations

import re
from array import array
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import Location, SpecError
from ..limits import MAX_DIGITS, MAX_NESTING, MAX_PROTOTXT_FIELDS

_SPACE = r"[ \t\r\n\f\v,;]"
_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)[fF]?"
_IDENT = r"[A-Za-z_][A-Za-z0-9_.]*"
_TOKEN = re.compile(rf"""{_SPACE}*  # the spaces before a token, matched with it: one match a token
  (?: (?P<end>\Z)
  | (?P<name>{_IDENT}){_SPACE}*:{_SPACE}*  # a whole 'name: 3', 'name: MAX', 'name: "x' in one match
    (?: (?P<scalar_number>{_NUMBER}) | (?P<scalar_ident>{_IDENT})(?![A-Za-z0-9_.:]|{_SPACE}*:)
      | (?P<scalar_string>["']) )
  | (?P<comment>\#[^\n]*)
  | (?P<string>["'])
  | (?P<number>{_NUMBER})
  | (?P<ident>{_IDENT})(?P<colon>{_SPACE}*:)?  # a name and its colon: one match
  | (?P<punct>[{{}}:<>\[\]])
  )""", re.VERBOSE)

# A string's body, at most ESCAPES escapes per match: the engine's memory grows with the escapes
# one match repeats over, never with the plain characters between them.
ESCAPES = 4096
_BODY = {q: re.compile(rf"[^{q}\\\n]*(?:\\.[^{q}\\\n]*){{0,{ESCAPES}}}") for q in "\"'"}
_SPACES = re.compile(r"[ \t\r\n\f\v,;]*")
_INTEGER = re.compile(r"[-+]?\d+")


class Source:
    """The text a message was read from, turning an offset and line into a ``Location``."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.lines: Dict[int, Tuple[int, str]] = {}  # line -> (its offset, its text), as asked for

    def location(self, pos: int, line: int, width: int = 1) -> Location:
        known = self.lines.get(line)
        if known is None:
            start = self.text.rfind("\n", 0, pos) + 1
            end = self.text.find("\n", pos)
            known = self.lines[line] = (start, self.text[start:end if end >= 0 else len(self.text)])
        start, source = known
        return Location(self.path, line, pos - start + 1, source, width)


class Value:
    """A scalar as written (number, bool, identifier or string) and where."""

    __slots__ = ("v", "loc")

    def __init__(self, v: Any, loc: Location) -> None:
        self.v, self.loc = v, loc


_NONE: List[Any] = []  # the fields of every message that has none (never appended to)
_NO_SPOTS = array("q")


class Message:
    """A message: its fields in file order, each a name, a value (a scalar or a Message) and
    where the value is written (a message: where its name is)."""

    __slots__ = ("source", "pos", "line", "keys", "vals", "spots")

    def __init__(self, source: Source, pos: int, line: int) -> None:
        self.source, self.pos, self.line = source, pos, line
        # an empty message (Caffe's ``param {}``) shares these until its first field: 80 bytes, not 300
        self.keys: List[str] = _NONE
        self.vals: List[Any] = _NONE
        self.spots = _NO_SPOTS  # offset, line and width of each value, three numbers a field

    @property
    def loc(self) -> Location:
        return self.source.location(self.pos, self.line)

    def add(self, key: str, value: Any, pos: int, line: int, width: int) -> None:
        if self.keys is _NONE:
            self.keys, self.vals, self.spots = [], [], array("q")
        self.keys.append(key)
        self.vals.append(value)
        self.spots.extend((pos, line, width))

    def entry(self, i: int) -> Any:
        """Field ``i``'s value: a Message, or a Value with its location."""
        v = self.vals[i]
        if isinstance(v, Message):
            return v
        return Value(v, self.source.location(*self.spots[3 * i:3 * i + 3]))

    @property
    def fields(self) -> Iterator[Tuple[str, Any, Location]]:
        for i, key in enumerate(self.keys):
            v = self.entry(i)
            yield key, v, v.loc

    def all(self, key: str) -> List[Any]:
        return [self.entry(i) for i, k in enumerate(self.keys) if k == key]

    def one(self, key: str) -> Any:
        for i in range(len(self.keys) - 1, -1, -1):  # protobuf: the last of a repeated singular field wins
            if self.keys[i] == key:
                return self.entry(i)
        return None

    def get(self, key: str, default: Any = None) -> Any:
        v = self.one(key)
        if v is None:
            return default
        if isinstance(v, Message):
            raise SpecError(f"'{key}' should be a value, not a message", v.loc)
        return v.v

    def msg(self, key: str) -> "Message":
        v = self.one(key)
        if v is None:
            return Message(self.source, self.pos, self.line)
        if not isinstance(v, Message):
            raise SpecError(f"'{key}' should be a message {{ ... }}", v.loc)
        return v

    def values(self, key: str) -> List[Any]:
        out = []
        for v in self.all(key):
            if isinstance(v, Message):
                raise SpecError(f"'{key}' should be a value, not a message", v.loc)
            out.append(v.v)
        return out


Token = Tuple[str, int, int, int, int, int, int]
"""kind, start offset, end offset, line; for a whole scalar field (kind ``scalar_number`` or
``scalar_ident``, ``scalar_string``, start and end its name's) its value's start, end and line,
else zeros."""


def tokens(source: Source) -> Iterator[Token]:
    """The tokens of the text one at a time (spaces and comments left out). An identifier and
    the ``:`` after it are one token, of kind ``field``, and a whole ``name: 3``, ``name: MAX`` or
    ``name: "conv1"`` is one, of kind ``scalar_`` and the value's kind: most fields in one match."""
    text, pos, line = source.text, 0, 1
    match, count = _TOKEN.match, text.count
    while True:
        m = match(text, pos)
        if m is None:
            spaces = _SPACES.match(text, pos)
            bad = spaces.end() if spaces else pos
            raise SpecError(f"unexpected character {text[bad]!r}", source.location(bad, line + count("\n", pos, bad)))
        kind = m.lastgroup or ""
        if kind[:7] == "scalar_":
            start, end = m.span("name")
            value, after = m.span(kind)
            line += count("\n", pos, start)
            value_line = line + count("\n", end, value)
            if kind == "scalar_string":
                after = string_end(source, value, value_line)
            yield kind, start, end, line, value, after, value_line
            line, pos = value_line, after
            continue
        if kind == "colon":  # the last group matched is the colon after a name
            start, end = m.span("ident")
            line += count("\n", pos, start)
            yield "field", start, end, line, 0, 0, 0
            line += count("\n", end, m.end())
            pos = m.end()
            continue
        start, end = m.span(kind)
        line += count("\n", pos, start)
        if kind == "end":
            return
        if kind == "string":
            end = string_end(source, start, line)
        if kind != "comment":
            yield kind, start, end, line, 0, 0, 0
        pos = end


def string_end(source: Source, pos: int, line: int) -> int:
    """The offset after the quoted string that starts at ``pos``, which must close on its line."""
    text, quote = source.text, source.text[pos]
    body, at = _BODY[quote], pos + 1
    while True:
        part = body.match(text, at)
        end = part.end() if part else at
        if end < len(text) and text[end] == quote:
            return end + 1
        if end == at or end >= len(text) or text[end] != "\\":  # the line or the text ends first
            raise SpecError("a quoted string is not closed on its line", source.location(pos, line),
                            hint=f"a {quote} is missing")
        at = end  # stopped at the escape past ESCAPES (or at a backslash ending the line: then no progress)


class Limit:
    """At most ``most`` top-level fields named one of ``names`` (Caffe's layers), ``what`` in words."""

    def __init__(self, names: Tuple[str, ...], most: int, what: str) -> None:
        self.names, self.most, self.what = names, most, what


def parse_text(text: str, path: str, limit: Optional[Limit] = None) -> Message:
    """The top-level message, or a SpecError at the offending token's file:line:col."""
    source = Source(text, path)
    root = Message(source, 0, 1)
    stack: List[Message] = [root]
    names: Dict[str, str] = {}  # one string per field name, however often it is written
    fields = top_counted = 0
    stream = tokens(source)
    token = next(stream, None)
    while token is not None:
        kind, start, end, line = token[:4]
        msg = stack[-1]
        if kind == "punct" and text[start] in "}>":
            if len(stack) == 1:
                raise SpecError(f"'{text[start]}' closes no message", source.location(start, line))
            stack.pop()
            token = next(stream, None)
            continue
        if kind not in ("ident", "field", "scalar_number", "scalar_ident", "scalar_string"):
            raise SpecError(f"expected a field name, got {clip(text[start:end])!r}",
                            source.location(start, line, end - start))
        key = names.setdefault(text[start:end], text[start:end])
        fields += 1
        if fields > MAX_PROTOTXT_FIELDS:
            raise too_many(source, start, line, end - start)
        if limit is not None and len(stack) == 1 and key in limit.names:
            top_counted += 1
            if top_counted > limit.most:
                raise SpecError(f"more than {limit.most:,} {limit.what}, convcalc's limit",
                                source.location(start, line, end - start))
        if kind[:7] == "scalar_":  # a whole scalar field
            msg.add(key, scalar(source, kind[7:], token[4], token[5], token[6], names), token[4], token[6],
                    token[5] - token[4])
            token = next(stream, None)
            continue
        value = next(stream, None)
        if kind == "ident" and value is not None and value[0] == "punct" and text[value[1]] == ":":
            value = next(stream, None)  # a colon after a comment: a token of its own
        if value is None:
            raise SpecError(f"field '{key}' has no value: the file ends", source.location(end, line))
        opener = text[value[1]] if value[0] == "punct" else ""
        if opener in ("{", "<"):
            if len(stack) > MAX_NESTING:
                raise SpecError(f"messages nested deeper than {MAX_NESTING}", source.location(value[1], value[3]))
            child = Message(source, start, line)
            msg.add(key, child, start, line, end - start)
            stack.append(child)
        elif opener == "[":  # a list: dim: [1, 3, 224, 224]
            item = next(stream, None)
            while item is not None and not (item[0] == "punct" and text[item[1]] == "]"):
                msg.add(key, scalar(source, *item[:4], names), item[1], item[3], item[2] - item[1])
                fields += 1
                if fields > MAX_PROTOTXT_FIELDS:
                    raise too_many(source, item[1], item[3], item[2] - item[1])
                item = next(stream, None)
            if item is None:
                raise SpecError(f"'[' of field '{key}' is never closed", source.location(value[1], value[3]))
        else:
            msg.add(key, scalar(source, *value[:4], names), value[1], value[3], value[2] - value[1])
        token = next(stream, None)
    if len(stack) > 1:
        open_ = stack[-1]
        name = next((k for k, v in zip(stack[-2].keys, stack[-2].vals) if v is open_), "")
        raise SpecError(f"message '{name}' is never closed: the file ends before its '}}'", open_.loc,
                        hint="a '}' is missing")
    return root


def too_many(source: Source, pos: int, line: int, width: int) -> SpecError:
    return SpecError(f"more than {MAX_PROTOTXT_FIELDS:,} fields, convcalc's limit for a prototxt",
                     source.location(pos, line, width),
                     hint="a deploy file of 20,000 layers has fewer; is this a model description?")


def scalar(source: Source, kind: str, start: int, end: int, line: int, names: Dict[str, str]) -> Any:
    """A token's value: an int, a float, a bool, a string, or an identifier (an enum's name)."""
    tok = source.text[start:end]
    if kind == "string":
        return (tok[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape", "replace")
                if "\\" in tok else tok[1:-1])
    if kind == "number":
        if len(tok) > MAX_DIGITS:
            raise SpecError(f"a number of {len(tok):,} characters", source.location(start, line, end - start))
        body = tok.rstrip("fF")
        try:
            return int(body) if _INTEGER.fullmatch(body) else float(body)
        except ValueError:
            raise SpecError(f"not a number: {tok!r}", source.location(start, line, end - start)) from None
    if kind == "ident":
        low = tok.lower()
        if low in ("true", "false"):
            return low == "true"
        return names.setdefault(tok, tok)
    if kind in ("field", "scalar_number", "scalar_ident", "scalar_string"):  # a name and a colon, not a value
        raise SpecError(f"expected a value, got the field name {clip(tok)!r}", source.location(start, line, end - start))
    raise SpecError(f"expected a value, got {clip(tok)!r}", source.location(start, line, end - start))


def clip(tok: str) -> str:
    return tok if len(tok) <= 40 else tok[:40] + "…"
