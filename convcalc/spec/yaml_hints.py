"""What a YAML spec's mistake most likely meant: the hints the YAML reader adds to an error that
PyYAML (or the reader's own "one layer per list item") would state without a way out. Plain
text in, plain text out: only ``yaml_reader.py`` imports PyYAML, and hands over what it read."""

from __future__ import annotations

import re
from typing import Any, Collection, Dict, List, Optional, Tuple

from ..errors import Location, SpecError
from ..layers import lookup
from .layer_string import ARGUMENT


def options_beside(entries: Dict[str, Tuple[Location, Any]], definitions: Collection[str]) -> Optional[SpecError]:
    """A layer whose options sit beside its kind instead of under it: ``- pwlinear: 8`` with
    ``bias: false`` on the next line, ``{pwlinear: '${2*c}', bias: false}``, or ``- conv:`` with
    its options not indented under it. The error, with the item written as it was meant; None
    when the keys are not one layer kind and options of it.

    ``entries`` holds each key of the item with where the key is and its value as written: one
    text, the ``key: value`` texts of a mapping, or None when it is empty.
    """
    kinds = [k for k in entries if k not in definitions and lookup(k) is not None]
    if len(kinds) != 1:
        return None
    kind = lookup(kinds[0])
    assert kind is not None
    fields = kind.option_fields()
    keys = set(fields) | {alias for f in fields.values() for alias in f.metadata["aliases"]}
    others = [k for k in entries if k != kinds[0]]
    if not all(k.lower() in keys for k in others):
        return None
    value = entries[kinds[0]][1]
    parts: List[str] = list(value) if isinstance(value, list) else []
    if isinstance(value, str) and kind.rule.leading:  # '- fc: 10' sets the leading option
        parts.append(f"{kind.rule.leading}: {value}")
    parts += [f"{k}: {entries[k][1]}" for k in others]
    return SpecError(f"'{others[0]}' is an option of {kinds[0]}, but it sits beside '{kinds[0]}' "
                     f"as if it were another layer", entries[others[0]][0],
                     hint=f"put the options under the kind: - {kinds[0]}: {{{', '.join(parts)}}}")


def item_hint(lines: List[str], line: int) -> str:
    """A list item ``- relu`` indented unlike the items before it (PyYAML: "did not find
    expected key"): where its '- ' should be. ``line`` counts from 0."""
    if line >= len(lines) or not lines[line].lstrip().startswith("-"):
        return ""
    column = len(lines[line]) - len(lines[line].lstrip())
    for above in range(line - 1, -1, -1):
        text = lines[above]
        indent = len(text) - len(text.lstrip())
        if text.lstrip().startswith("- ") and indent != column:
            return (f"this '- ' is at column {column + 1}; a list item lines its '- ' up with the item before it "
                    f"(line {above + 1}, column {indent + 1}): indent it by {indent} spaces")
    return ""


def flow_hint(context: str, source: str) -> str:
    """A block argument inside YAML's [...] or {...} (PyYAML's error ``context`` says "flow"):
    its braces end the collection unless quoted."""
    m = re.search(ARGUMENT, source)
    if m is None or "flow" not in context:
        return ""
    start, end = m.start(), m.end()
    while start > 0 and source[start - 1] not in " \t[{,":  # the whole plain scalar, e.g. conv${w}k3
        start -= 1
    while end < len(source) and source[end] not in " \t]},":
        end += 1
    return f"inside [...] or {{...}} YAML reads '{{' and '}}' itself: write '{source[start:end]}' in quotes"
