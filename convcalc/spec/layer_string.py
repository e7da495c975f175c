"""The compact layer string, for the terminal: ``227x227x3 conv96k11s4 maxpool3s2 fc4096``.

Grammar (separators are spaces, newlines, commas or ``->``)::

    spec   := [input] item*
    input  := H x W x C            e.g. 224x224x3, or VGG's "input (224 × 224 RGB image)"
    item   := token | "(" item* ")" [ "x" N ]          repetition: (conv64k3p1 relu)x2
    token  := kind [-] [N] option*                     conv64k3p1, maxpool2s2, fc4096, FC-4096
            | "conv" F "-" K                           VGG's notation: conv3-64 (3x3, stride 1, pad 1)
    option := k F[xF] | s S[xS] | p P[xP] | psame | pvalid | d D | g G | nb | na | ceil | i I | c A[xB...]

The number right after the kind sets the kind's leading option: filters for conv, units for fc,
the window for pools. A leading option with a number per axis takes them all, as YAML does:
``maxpool3x2``, ``reshape16x4x4``, ``permute1x0x2``, and a reshape's dims may hold one -1, the
size inferred from the element count: ``reshape-1x64``. Every token keeps its line and column,
so errors point at it with a caret.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from ..errors import Location, SpecError, did_you_mean
from ..layers import BY_NAME, Add, Concat, ConcatTokens, MatMul, Mul, lookup
from ..layers.options import (
    BLOCK_INPUT,
    OptionError,
    dims_inferring,
    padding,
    per_axis,
    per_axis_number,
    per_axis_or_zero,
    read_whole,
    tensor_name,
)
from ..limits import MAX_LAYERS, MAX_NESTING, MAX_SPEC_BYTES
from ..shape import Shape
from ..values import fields as fields_of
from ..values import replace, value
from .model import (
    BlockSpec,
    FromSpec,
    LayerSpec,
    NetworkSpec,
    Node,
    RawOption,
    count_layers,
    kind_names,
    make_layer,
)
from .shapes import parse_shape


@value
class Token:
    """A word, '(' or ')x2' of the layer string, with where it starts."""

    text: str
    loc: Location


_SEPARATORS = re.compile(r"(?:\s|,|->|→)+")
# A block argument ${...} stays one word. Its body stops at the next '$' too: with ``[^}]*`` an
# unclosed '${${${…' rescanned the rest of the line at every '$' (quadratic; 16 s for 100,000).
ARGUMENT = r"\$\{([^}$]*)\}"  # group 1: the expression
_WORD = re.compile(rf"(?:{ARGUMENT}|(?!->|→)[^\s,()|])+")
_REPEAT = re.compile(r"\)\s*(?:[x×*]\s*([0-9]+))?", re.IGNORECASE)
_VGG_INPUT = re.compile(r"input\s*\(([^)]*)\)", re.IGNORECASE)
_VGG_CONV = re.compile(r"^conv([0-9]+)-([0-9]+)$", re.IGNORECASE)
_VGG_FC = re.compile(r"^FC-[0-9]+$")  # VGG's FC-4096, in capitals as the paper prints it
_KIND = re.compile(r"^[a-z][a-z_-]*", re.IGNORECASE)
_KIND_CHARS = re.compile(r"^[a-z][a-z0-9_-]*", re.IGNORECASE)
_COUNT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)")  # ASCII digits: \d also matches '３'
# a leading option with one number per axis takes them all: reshape16x4x4, permute1x0x2, maxpool3x2;
# a reshape's may be -1, inferred: reshape-1x64, reshape64x-1
_DIMS = re.compile(r"^-?[0-9]+(?:[x×]-?[0-9]+)+|^-1(?![0-9])", re.IGNORECASE)
_PER_AXIS = (per_axis, per_axis_or_zero, padding, per_axis_number, dims_inferring)
# an option's value may carry a sign, so that p-1 gets the converter's "must be 0 or more", not "needs a value"
_OPTION = re.compile(r"(nb|na|ceil|rb|sh|grid|add)|(op|[a-z])(same|valid|-?[0-9]+(?:x-?[0-9]+)*)?", re.IGNORECASE)


def tokenize(
    text: str, file: str = "<string>", line: int = 1, column: int = 1, sources: Optional[List[str]] = None
) -> List[Token]:
    """Split into words, '(' and ')' tokens (a ')' carries its repeat count: ')x2').

    ``line`` and ``column`` say where ``text`` starts in its file; ``sources`` are the file's
    lines shown under an error (default: the lines of ``text``).
    """
    tokens: List[Token] = []
    rows = text.split("\n")
    shown_rows = sources if sources is not None else rows
    for row, source in enumerate(rows):
        first_col = column if row == 0 else 1
        shown = shown_rows[row] if row < len(shown_rows) else source
        pos = 0
        while pos < len(source):
            m = _SEPARATORS.match(source, pos)
            if m and m.end() > pos:
                pos = m.end()
                continue
            m = _REPEAT.match(source, pos) if source[pos] == ")" else _WORD.match(source, pos)
            end = pos + 1 if source[pos] in "(|" else (m.end() if m else pos + 1)
            if source[pos] not in "()|" and source[end:end + 1] == "(":  # 'res(' opens a block
                end += 1
            tokens.append(Token(source[pos:end], Location(file, line + row, first_col + pos, shown, end - pos)))
            pos = end
    return tokens


def parse_string(text: str, file: str = "<string>") -> NetworkSpec:
    """A whole spec: the input shape first, then the layers."""
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(f"layer string is longer than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
    lines = text.split("\n")
    vgg = _VGG_INPUT.match(text, len(text) - len(text.lstrip()))
    if vgg:  # blank out VGG's header so the tokens after it keep their true columns
        start = text.rfind("\n", 0, vgg.start()) + 1
        where = Location(file, text.count("\n", 0, vgg.start()) + 1, vgg.start() - start + 1,
                         lines[text.count("\n", 0, vgg.start())], vgg.end() - vgg.start())
        shape = _vgg_input(vgg.group(1), where)
        blanked = text[: vgg.start()] + re.sub(r"[^\n]", " ", vgg.group(0)) + text[vgg.end():]
        tokens = tokenize(blanked, file, sources=lines)
    else:
        tokens = tokenize(text, file)
        if not tokens:
            raise SpecError("empty layer string", Location(file, 1, 1, lines[0]),
                            hint="start with an input shape, e.g. 224x224x3 conv64k3p1")
        first = tokens[0]
        if not re.match(r"^[0-9]", first.text):
            raise SpecError(
                f"a layer string starts with the input shape (HxWxC), got '{first.text}'",
                first.loc,
                hint=f"for example: 224x224x3 {first.text} ...",
            )
        shape = parse_shape(first.text, first.loc)
        tokens = tokens[1:]
    layers = _Parser(tokens).items(top=True)
    return NetworkSpec(input=shape, layers=tuple(layers), name="", origin=file)


def parse_tokens(tokens: List[Token]) -> List[Node]:
    """Layers only (no input shape), e.g. the tokens of a YAML list item ``- conv3-64 relu``."""
    return _Parser(tokens).items(top=True)


def _vgg_input(inside: str, loc: Location) -> Shape:
    """VGG's table header: "input (224 × 224 RGB image)" is 224x224x3."""
    numbers = [number_in(n, loc) for n in re.findall(r"[0-9]+", inside)]
    words = inside.lower()
    channels = 3 if ("rgb" in words or "bgr" in words or "colour" in words or "color" in words) else None
    if channels is None and ("gray" in words or "grey" in words or "mono" in words):
        channels = 1
    if channels is not None and len(numbers) == 2:
        numbers.append(channels)
    if len(numbers) < 2:
        raise SpecError(f"cannot read an input shape from 'input ({inside})'", loc, hint="write it as 224x224x3")
    return parse_shape("x".join(map(str, numbers)), loc)


# Block openers: 'res(' is a residual block (an identity shortcut unless a second branch is
# given after '|'); the others merge the branches they list.
BLOCK_OPENERS = {"res": (Add, "res"), "add": (Add, ""), "cat": (Concat, ""), "concat": (Concat, ""),
                 "mul": (Mul, ""), "seqcat": (ConcatTokens, ""), "matmul": (MatMul, "")}


class _Parser:
    """Recursive descent over tokens, with a depth limit instead of Python's recursion limit."""

    def __init__(self, tokens: List[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.layers = 0
        self.sizes: Dict[int, int] = {}  # block sizes by identity (see spec.count_layers)

    def items(self, top: bool = False, branch: bool = False) -> List[Node]:
        """Items up to a ')' (or '|' inside a block's branch list), which is left for the caller."""
        out: List[Node] = []
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok.text == "(" or tok.text.endswith("("):
                self.pos += 1
                group, close = self.group(tok)
                count = _repeat_count(close)
                self.count((count - 1) * count_layers(group, self.sizes), close)
                out.extend(group * count)
            elif tok.text.startswith(")"):
                if top:
                    raise SpecError("')' without a matching '('", tok.loc)
                return out
            elif tok.text == "|":
                if not branch:
                    raise SpecError("'|' separates branches, only inside res(...), add(...), cat(...) or mul(...)",
                                    tok.loc)
                return out
            else:
                self.pos += 1
                try:
                    item = read_item(tok)
                except SpecError as e:
                    before = self.tokens[self.pos - 2] if self.pos >= 2 and out else None
                    raise _detached_option(e, tok, out[-1] if before else None, before) from None
                out.append(item)
                self.count(0 if isinstance(item, FromSpec) else 1, tok)
        return out

    def group(self, opener: Token) -> Tuple[List[Node], Token]:
        """A '(' group (its items) or a block 'res(' ... ')' (one BlockSpec), and the closing token."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise SpecError(f"groups nested more than {MAX_NESTING} deep", opener.loc)
        keyword = opener.text[:-1].lower()
        if keyword and keyword not in BLOCK_OPENERS:
            raise SpecError(f"unknown block '{keyword}('{did_you_mean(keyword, BLOCK_OPENERS)}", opener.loc,
                            hint="blocks: res(...), add(a | b), cat(a | b | c), mul(a | b), matmul(a | b)")
        branches = [self.items(branch=bool(keyword))]
        while self.pos < len(self.tokens) and self.tokens[self.pos].text == "|":
            self.pos += 1
            branches.append(self.items(branch=True))
        if self.pos >= len(self.tokens):
            raise SpecError(f"'{opener.text}' is never closed", opener.loc, hint="add ')' after the group's layers")
        close = self.tokens[self.pos]
        self.pos += 1
        self.depth -= 1
        if not keyword:
            return branches[0], close
        merge, kind = BLOCK_OPENERS[keyword]
        if len(branches) == 1:
            if merge is not Add:
                raise SpecError(f"{keyword}(...) needs at least two branches separated by '|'", opener.loc)
            branches.append([])  # res(a) and add(a): the shortcut is the identity
        self.count(1, close)
        block = BlockSpec(tuple(tuple(b) for b in branches), merge(), kind=kind, loc=opener.loc)
        return [block], close

    def count(self, added: int, tok: Token) -> None:
        self.layers += added
        if self.layers > MAX_LAYERS:
            raise SpecError(f"the network would have more than {MAX_LAYERS:,} layers", tok.loc)


def _detached_option(error: SpecError, tok: Token, before: Optional[Node], token: Optional[Token]) -> SpecError:
    """``conv16k3 s2``: an option written as a token of its own is read as a layer 's'. When the
    layer before (``before``, read from ``token``) takes that letter, the error says the option
    joins its token: ``conv16k3s2``."""
    m = _OPTION.fullmatch(tok.text)
    if (not isinstance(before, LayerSpec) or before.name or m is None or token is None
            or _KIND_CHARS.match(token.text) is None or _VGG_CONV.match(token.text) or _VGG_FC.match(token.text)):
        return error  # after a group's ')' or VGG's conv3-64 an option could join nothing
    kind = lookup(before.layer.kind)
    letter = (m.group(1) or m.group(2)).lower()
    if kind is None or letter not in {f.metadata["letter"] for f in kind.option_fields().values()}:
        return error
    written = token.text
    return SpecError(f"'{tok.text}' stands apart from '{written}', so it is read as a layer of its own",
                     tok.loc, hint=f"an option joins its layer's token, without a space: {written}{tok.text}")


def longest_kind(text: str) -> Optional[str]:
    """The longest start of ``text`` that names a layer kind.

    Longest, so that kinds with digits win over a count: ``relu6`` is ReLU6, ``conv2d64k3`` is a
    conv2d with 64 filters, while ``maxpool2s2`` is a maxpool with window 2.
    One pass that stops once the start is longer than any kind's name, so a 20,000-digit count
    costs no more than a short one (normalising every prefix was quadratic).
    """
    m = _KIND_CHARS.match(text)
    if m is None:
        return None
    run = m.group(0)
    key, found = "", 0
    for n, c in enumerate(run, start=1):
        if c not in "-_":  # what normalise() drops
            key += c.lower()
            if len(key) > _LONGEST_KIND:
                break
        if key in BY_NAME:
            found = n
    return run[:found] or None


_LONGEST_KIND = max(map(len, BY_NAME))


def _repeat_count(close: Token) -> int:
    m = _REPEAT.match(close.text)
    assert m is not None
    if m.group(1) is None:
        return 1
    count = number_in(m.group(1), close.loc)
    if count < 1:
        raise SpecError(f"a group repeated {count} times", close.loc, hint="repeat at least once: (...)x1")
    return count


def read_item(tok: Token) -> Node:
    """A layer token, with the graph's two marks: ``@enc1`` alone reads the tensor named enc1
    (what follows starts from it), ``conv64k3p1:enc1`` names a layer so later tokens can read
    it, and ``crop@up4`` / ``upsample@enc1`` take their size from the tensor named up4 / enc1.
    ``@<in>`` reads the input of the block it stands in (``options.BLOCK_INPUT``)."""
    text = tok.text
    if text.startswith("@"):
        if text[1:] != BLOCK_INPUT:
            _check_name(text[1:], tok.loc, "'@' reads a named tensor: '@enc1', or the block's input: '@<in>'")
        return FromSpec(text[1:], tok.loc)
    body, colon, name = text.partition(":")
    body, at, like = body.partition("@")
    if colon:
        _check_name(name, replace(tok.loc, column=tok.loc.column + len(body) + len(at) + len(like) + 1,
                                  width=max(len(name), 1)), "':' names the layer before it: 'conv64k3p1:enc1'")
    spec = parse_token(Token(body, replace(tok.loc, width=len(body))) if (colon or at) else tok)
    if at:
        where = replace(tok.loc, column=tok.loc.column + len(body) + 1, width=max(len(like), 1))
        _check_name(like, where, "'@' after a layer takes the size of a named tensor: 'upsample@enc1'")
        if "like" not in {f.name for f in fields_of(type(spec.layer))}:
            raise SpecError(f"{spec.layer.kind} cannot take its size from another tensor ('@{like}')", where,
                            hint="only upsample and crop can: upsample@enc1, crop@up4")
        spec = replace(spec, layer=replace(spec.layer, like=like))
    return replace(spec, name=name) if colon else spec


def _check_name(name: str, loc: Location, usage: str) -> None:
    """The name rule of ``options.tensor_name``, as a located error that says how names are written."""
    try:
        tensor_name(name)
    except OptionError:
        raise SpecError(f"expected a name (letters, digits, '_', '.' or '-'), got "
                        f"'{name[:40]}'", loc, hint=usage)


def parse_token(tok: Token) -> LayerSpec:
    """One layer token: ``conv96k11s4``, ``maxpool3s2``, ``fc4096``, ``conv3-64``, ``relu``."""
    return parse_word(tok.text, tok.loc)


def parse_word(text: str, loc: Location) -> LayerSpec:
    """``parse_token`` of the token ``text`` at ``loc``, without making the Token when the word was read before."""
    layer = _LAYER_OF.get(text)
    if layer is None:  # long specs repeat a few tokens: read each once
        if len(_LAYER_OF) > 10_000:
            _LAYER_OF.clear()
        layer = _LAYER_OF[text] = _parse_token(Token(text, loc)).layer
    return LayerSpec(layer, loc=loc)


_LAYER_OF: Dict[str, Any] = {}


def _parse_token(tok: Token) -> LayerSpec:
    text = tok.text
    loc = tok.loc
    if re.match(r"^[0-9]+([x×][0-9]+)+$", text, re.IGNORECASE):
        raise SpecError(f"a shape '{text}' can only come first, as the input", loc)
    vgg = _VGG_CONV.match(text)
    if vgg:  # VGG's convF-K: FxF filters, stride 1, padding that keeps the size
        kernel, filters = number_in(vgg.group(1), loc), number_in(vgg.group(2), loc)
        opts = [RawOption("filters", filters, loc, loc), RawOption("kernel", kernel, loc, loc),
                RawOption("padding", (kernel - 1) // 2, loc, loc)]
        return LayerSpec(make_layer("conv", opts, loc), loc=loc)
    kind_text = longest_kind(text)
    if kind_text is None:
        m = _KIND.match(text)
        if m is None:
            raise SpecError(f"expected a layer such as conv64k3p1, got '{text}'", loc, hint=(
                "layers are separated by spaces, commas or '->'; in a YAML file '- ' starts a list item, "
                "its '- ' lined up with the '- ' of the items above" if text.startswith("-") else ""))
        word = m.group(0).rstrip("-_")
        raise SpecError(
            f"unknown layer '{word}'{did_you_mean(word, kind_names())}",
            Location(loc.file, loc.line, loc.column, loc.source, len(word)),
            hint="`convcalc kinds` lists every layer kind",
        )
    kind = lookup(kind_text)
    assert kind is not None
    stem = kind_text.rstrip("-")
    name = kind.rule.leading
    leading = kind.option_fields()[name].metadata["convert"] if name else None
    dims = _DIMS.match(text[len(stem):]) if name and leading in _PER_AXIS else None
    if dims and "-" in dims.group(0) and leading is not dims_inferring:
        dims = None  # only a reshape's dims may hold -1
    if stem != kind_text and dims and dims.group(0).startswith("-"):
        kind_text = stem  # reshape-1x64: the dash is -1's sign
    if stem != kind_text and not _VGG_FC.match(text):
        raise _dash_error(text, stem, kind_text, kind, loc)
    pos = len(kind_text)
    options: List[RawOption] = []
    count = _COUNT.match(text[pos:])
    if name and dims:
        where = loc.shifted(pos, dims.end())
        options.append(RawOption(name, dims.group(0).replace("×", "x"), where, where))
        pos += dims.end()
    elif count:
        where = loc.shifted(pos, count.end())
        if kind.rule.leading is None:
            raise SpecError(f"{kind.name} takes no number, got '{count.group(0)}'", where)
        number = count.group(1)
        options.append(RawOption(kind.rule.leading, float(number) if "." in number else number_in(number, where),
                                 where, where))
        pos += count.end()
    letters = {f.metadata["letter"]: name for name, f in kind.option_fields().items() if f.metadata["letter"]}
    while pos < len(text):
        m = _OPTION.match(text, pos)
        where = loc.shifted(pos, (m.end() - pos) if m else len(text) - pos)
        if m is None:
            raise SpecError(f"cannot read '{text[pos:]}' in '{text}'", where, hint=_letters_hint(kind.name, letters))
        letter = (m.group(1) or m.group(2)).lower()
        name = letters.get(letter)
        if name is None:
            raise SpecError(f"{kind.name} has no option '{letter}' (in '{text}')", where,
                            hint=_letters_hint(kind.name, letters))
        field = kind.option_fields()[name]
        if m.group(1):
            value = field.metadata["flag"]
        elif m.group(3) is None:
            raise SpecError(f"option '{letter}' of {kind.name} needs a value, e.g. {letter}2", where)
        else:
            text_value = "x" in m.group(3).lower() or m.group(3).isalpha()  # 3x5, same: the converter reads them
            value = m.group(3) if text_value else number_in(m.group(3), where)
        options.append(RawOption(name, value, where, where))
        pos = m.end()
    return LayerSpec(make_layer(kind.name, options, Location(loc.file, loc.line, loc.column, loc.source, len(text))),
                     loc=loc)


def number_in(digits: str, loc: Location) -> int:
    """A whole number from the layer string (options.read_whole, with the location added)."""
    try:
        return read_whole(digits)
    except OptionError as e:
        raise SpecError(str(e), loc) from None


def _dash_error(text: str, stem: str, kind_text: str, kind: Any, loc: Location) -> SpecError:
    """A dash after the kind (``pad-88``, ``conv-8k3``, ``fc-5``) reads as a minus sign; only VGG's
    notation (``conv3-64``, ``FC-4096``) has one, so anything else is refused, never guessed."""
    where = loc.shifted(len(stem), len(kind_text) - len(stem))
    rest = text[len(kind_text):]
    fixed = stem + rest
    if kind.rule.leading == "padding" and rest.isascii() and rest.isdigit():  # pad-88: a crop was meant
        negative = RawOption("padding", number_in("-" + rest, where), where, where)
        try:  # the converter refuses it, in the words it uses for p-1 and padding: -1
            make_layer(kind.name, [negative], where)
        except SpecError as e:
            return SpecError(f"{e.message}; convcalc has no crop layer", where,
                             hint=f"padding adds P ≥ 0 zeros on every side: {fixed} pads by {rest}")
    return SpecError(f"unexpected '-' in '{text}': expected {kind.name}'s number right after '{stem}'", where,
                     hint=f"write {fixed}; only VGG's notation has a dash, as the paper prints it: "
                          f"conv3-64 (3x3 conv, 64 filters), FC-4096")


def _letters_hint(kind: str, letters: Dict[str, Any]) -> str:
    if not letters:
        return f"{kind} takes no options"
    return f"{kind} options: " + ", ".join(f"{k} ({v})" for k, v in letters.items())


__all__ = ["parse_string", "parse_tokens", "parse_token", "parse_word", "tokenize"]
