"""The cs231n listing notation as a spec, each bracketed shape an answer to check::

    [227x227x3] INPUT
    [55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0
    [27x27x96] MAX POOL1: 3x3 filters at stride 2
    [27x27x96] NORM1: Normalization layer
    [27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2
    [4096] FC6: 4096 neurons

The first line gives the input; every later line is a layer, named as the notes name it, whose
bracket is the student's answer for its output (``[?]`` or ``[]`` leaves it open, and
``convcalc check`` fills it in). The
kind comes from the name (CONV, MAX POOL, AVG POOL, NORM, FC, RELU ... anything ``convcalc kinds``
knows, without its number). The description is read with the registry's option names and
aliases ("stride 4", "pad 0", "dilation 2", "groups 2") and the listing's own phrases for the
counts ("96 11x11 filters", "3x3 filters", "4096 neurons"). A number the reader cannot place is
an error at that number, never a guess. Lines without a bracket are prose and skipped, unless
they look like a layer that lost its bracket.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

from ..errors import Location, SpecError, did_you_mean
from ..layers import Conv, DepthwiseConv, Linear, Pool, SeparableConv, lookup, normalise
from ..layers.options import OptionError, read_whole
from ..limits import MAX_LAYERS, MAX_SPEC_BYTES
from .expectations import Expectation
from .model import (
    LayerSpec,
    NetworkSpec,
    RawOption,
    kind_names,
    make_layer,
)
from .shapes import parse_shape

# No pattern here lets two quantifiers take the same characters (a name's trailing spaces were
# both '[^:]*?' and '\s*'): Python's matcher would try every split, and a 20,000-character
# line took 30 s. Each pattern starts only where a number or word starts, and a layer line's
# description is bounded before its phrases are searched (_MAX_DESCRIPTION).
_ANSWER = re.compile(r"\s*\[([^\]\n]*)\]")  # the rest of the line is split at its first ':' (_split_line)
_BRACKETLESS = re.compile(r"\s*([A-Za-z](?:[A-Za-z ]*[A-Za-z])?)\s*\d+\s*:")
_AXES = r"\d+(?:\s*[x×]\s*\d+)*"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNANSWERED = ("", "?", "?x?x?", "??")
_MAX_DESCRIPTION = 500  # characters; "96 11x11 filters at stride 4, pad 0" is 35

# The listing's phrases for a kind's leading counts, by the rule that reads them.
_FILTERS = re.compile(rf"(?<!\d)(\d+)\s+({_AXES})\s+(?:conv(?:olution(?:al)?)?\s+)?(?:filters?|kernels?)\b", re.I)
_WINDOW = re.compile(rf"(?<!\d)({_AXES})\s+(?:filters?|windows?|kernels?|pool(?:ing)?)\b", re.I)
_UNITS = re.compile(r"(?<!\d)(\d+)\s+(?:hidden\s+)?(?:neurons?|units?|outputs?)\b", re.I)


def parse_listing(text: str, file: str = "<listing>") -> NetworkSpec:
    """A listing -> NetworkSpec whose layers carry the bracketed answers as shape expectations."""
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(f"listing is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes", Location(file, 1, 1))
    lines = [line.rstrip("\r") for line in text.split("\n")]  # CRLF files read the same
    input_shape = None
    layers: List[LayerSpec] = []
    for number, source in enumerate(lines, start=1):
        stripped = source.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = _split_line(source)
        if parts is None:
            _refuse_bracketless(source, number, file)
            continue
        indent, shape_text, name, description = parts
        if _is_citation(shape_text, name):
            continue
        at = Location(file, number, len(indent) + 2, source, max(1, len(shape_text)))
        name_col = source.index(name, len(indent) + len(shape_text) + 2) + 1 if name else len(source) + 1
        name_at = Location(file, number, name_col, source, max(1, len(name)))
        if input_shape is None:
            if normalise(name) != "input":
                raise SpecError(f"a listing starts with its input, e.g. '[227x227x3] INPUT', got '{stripped[:60]}'",
                                name_at)
            if shape_text.strip() in _UNANSWERED:
                raise SpecError("the input needs its shape, e.g. [227x227x3]", at)
            input_shape = parse_shape(shape_text, at)
            continue
        if not name:
            raise SpecError("this line has a shape but no layer", at, hint="for example: [55x55x96] CONV1: 96 11x11 "
                                                                           "filters at stride 4, pad 0")
        desc_col = source.rindex(description) + 1 if description else len(source) + 1
        layer = _layer(name, name_at, description, Location(file, number, desc_col, source))
        # an open bracket is still a question: checking fills in the answer
        expect: Tuple[Expectation, ...] = (Expectation("shape", None, shape_text.strip() or "?", at),)
        if shape_text.strip().lower() not in _UNANSWERED:
            if not re.match(r"^\s*\d+(\s*[x×]\s*\d+)*\s*$", shape_text):
                raise SpecError(f"cannot read the answer '[{shape_text}]': expected a shape such as [55x55x96], "
                                f"or [?] to leave it open", at)
            expect = (Expectation("shape", parse_shape(shape_text, at), shape_text.strip(), at),)
        layers.append(LayerSpec(layer, name, name_at, expect))
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"the listing has more than {MAX_LAYERS:,} layers", name_at)
    if input_shape is None:
        raise SpecError("no listing here: expected lines like '[227x227x3] INPUT' and "
                        "'[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0'", Location(file, 1, 1))
    return NetworkSpec(input=input_shape, layers=tuple(layers), name="", title="", origin=file)


def _split_line(source: str) -> Optional[Tuple[str, str, str, str]]:
    """'  [55x55x96] CONV1: 96 11x11 filters' -> ('  ', '55x55x96', 'CONV1', '96 11x11 filters'),
    or None for a line without a bracket. The name runs to the first ':', the description after it."""
    m = _ANSWER.match(source)
    if m is None:
        return None
    name, colon, description = source[m.end():].partition(":")
    return source[:m.start(1) - 1], m.group(1), name.strip(), description.strip() if colon else ""


def _kind_word(name: str) -> str:
    """The name without its number: 'CONV1' and 'FC-6' -> 'CONV', 'FC'; 'MAX POOL 2' -> 'MAX POOL'."""
    end = len(name)
    while end and name[end - 1].isdecimal():
        end -= 1
    while end and (name[end - 1].isspace() or name[end - 1] in "_-"):
        end -= 1
    return name[:end]


def _is_citation(shape_text: str, name: str) -> bool:
    """'[Krizhevsky et al. 2012]': words in the brackets, and no layer (or INPUT) after them."""
    words = re.sub(r"[\dx×?\s]", "", shape_text, flags=re.I)
    word = _kind_word(name)
    named = lookup(word) is not None or normalise(word) == "input"
    return bool(words) and not named


def _refuse_bracketless(source: str, number: int, file: str) -> None:
    """Prose is skipped; a layer without its bracketed answer is a mistake worth saying."""
    m = _BRACKETLESS.match(source)
    if m and lookup(m.group(1)) is not None and normalise(m.group(1)) != "input":
        col = m.start(1) + 1
        raise SpecError(f"layer '{source.strip()[:40]}' has no [shape] in front", Location(file, number, col, source),
                        hint="write the answer in brackets first, e.g. [55x55x96] CONV1: ..., or [?] to leave it open")


def _layer(name: str, at: Location, description: str, desc_at: Location) -> Any:
    word = _kind_word(name)
    kind = lookup(word)
    if kind is None:
        raise SpecError(f"unknown layer '{word}'{did_you_mean(normalise(word), kind_names())}",
                        Location(at.file, at.line, at.column, at.source, len(word)),
                        hint="`convcalc kinds` lists every layer kind")
    if len(description) > _MAX_DESCRIPTION:
        raise SpecError(f"this description of {kind.name} is {len(description):,} characters long; a listing line "
                        f"describes its layer in at most {_MAX_DESCRIPTION}", desc_at,
                        hint="for example: [55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0")
    options, used = _counts(kind.rule, description, desc_at)
    options += _named_options(kind, description, desc_at, used)
    _refuse_unplaced(kind.name, description, desc_at, used)
    return make_layer(kind.name, options, at)


Span = Tuple[int, int]


def _value(text: str, at: Location) -> Any:
    text = re.sub(r"\s+", "", text).replace("×", "x").lower()
    if text.isdigit():  # \d matched it; read_whole refuses what is not ASCII and what is too long
        try:
            return read_whole(text)
        except OptionError as e:
            raise SpecError(str(e), at) from None
    return text


def _counts(rule: type, description: str, at: Location) -> Tuple[List[RawOption], List[Span]]:
    """The listing's phrases: '96 11x11 filters' (conv), '3x3 filters' (pool), '4096 neurons' (fc)."""
    options: List[RawOption] = []
    used: List[Span] = []

    def found(m: "re.Match[str]", *names: str) -> None:
        for group, name in enumerate(names, start=1):
            where = at.shifted(m.start(group), m.end(group) - m.start(group))
            options.append(RawOption(name, _value(m.group(group), where), where, where))
        used.append(m.span())

    if issubclass(rule, (Conv, SeparableConv)):
        m = _FILTERS.search(description)
        if m:
            found(m, "filters", "kernel")
        elif _WINDOW.search(description):
            w = _WINDOW.search(description)
            assert w is not None
            raise SpecError(f"how many {w.group(1)} filters? a conv line says how many, e.g. '96 {w.group(1)} filters'",
                            at.shifted(w.start(), w.end() - w.start()))
    elif issubclass(rule, DepthwiseConv):
        m = _WINDOW.search(description)
        if m:
            found(m, "kernel")
    elif issubclass(rule, Pool):
        m = _WINDOW.search(description)
        if m:
            found(m, "kernel")
    elif issubclass(rule, Linear):
        m = _UNITS.search(description)
        if m:
            found(m, "units")
    return options, used


def _named_options(kind: Any, description: str, at: Location, used: List[Span]) -> List[RawOption]:
    """'stride 4', 'pad 0', 'padding same', 'dilation 2', 'groups 2', 'size 5': any option by any name."""
    options = []
    for name, f in kind.option_fields().items():
        words = "|".join(re.escape(w.replace("_", " ")) for w in sorted((name, *f.metadata["aliases"]), key=len,
                                                                         reverse=True))
        after = re.compile(rf"\b(?:{words})\b\s*(?:(?:=|:|of)\s*)?({_AXES}|same|valid|true|false|\d*\.\d+(?:e-?\d+)?)",
                           re.I)
        before = re.compile(rf"\b(\d+)\s+(?:{words})\b", re.I)  # '2 groups'
        matches = [m for m in (*after.finditer(description), *before.finditer(description))
                   if not any(a <= m.start() < b for a, b in used)]
        for i, m in enumerate(sorted(matches, key=lambda m: m.start())):
            where = at.shifted(m.start(1), m.end(1) - m.start(1))
            if i:
                raise SpecError(f"{kind.name} option '{name}' is given twice", where)
            options.append(RawOption(name, _value(m.group(1), where), where, where))
            used.append(m.span())
    bias = re.search(r"\b(?:no|without)\s+bias(?:es)?\b", description, re.I)
    if bias and "bias" in kind.option_fields():
        options.append(RawOption("bias", False, at.shifted(bias.start()), at.shifted(bias.start())))
        used.append(bias.span())
    return options


def _refuse_unplaced(kind: str, description: str, at: Location, used: List[Span]) -> None:
    from ..layers import KINDS

    known = {w.replace("_", " ").lower() for k in KINDS for n, f in k.option_fields().items()
             for w in (n, *f.metadata["aliases"])}
    for m in _NUMBER.finditer(description):
        if not any(a <= m.start() < b for a, b in used):
            word = re.search(r"(?<![a-z_])([a-z_]+)\s*(?:(?:=|:|of)\s*)?$", description[:m.start()], re.I)
            if word and word.group(1).lower() in known:
                raise SpecError(f"{kind} has no option '{word.group(1)}'", at.shifted(word.start(1), len(word.group(1))),
                                hint=f"`convcalc kinds` lists the options of {kind}")
            raise SpecError(f"cannot tell what '{m.group(0)}' means in '{description}'",
                            at.shifted(m.start(), m.end() - m.start()),
                            hint="a listing line reads like '96 11x11 filters at stride 4, pad 0', "
                                 "'3x3 filters at stride 2' or '4096 neurons'")
