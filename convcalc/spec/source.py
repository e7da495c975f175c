"""A spec's text, read safely, and handed to the reader its first line asks for.

Files are read no further than the spec limit and decoded as UTF-8 with the place of a bad byte
said; the text is then YAML, a layer string (it starts with the input shape) or a listing in
the lecture notes' notation (its first line is ``[227x227x3] INPUT``). The front door
(``convcalc/load.py``) and the readers of text model formats (Caffe, a Keras ``.json``) use it.
"""

from __future__ import annotations

import os
import re
from typing import BinaryIO, Optional, Union

from ..errors import Location, SpecError
from ..limits import MAX_SPEC_BYTES
from .model import NetworkSpec


def load_file(path: "Union[str, os.PathLike[str]]", display: Optional[str] = None) -> NetworkSpec:
    name = display or str(path)
    yaml_only = os.path.splitext(path)[1].lower() in (".yaml", ".yml")
    return from_text(read_text(path, name), name, yaml_only=yaml_only)


def read_text(path: "Union[str, os.PathLike[str]]", name: str) -> str:
    """A text file's contents, read no further than the spec limit: for specs and for the
    readers of text model formats (Caffe prototxt) alike; errors name the file as ``name``."""
    try:
        with open(path, "rb") as f:
            data = read_at_most(f, MAX_SPEC_BYTES + 1)
    except OSError as e:
        raise SpecError(f"cannot read '{name}': {e.strerror or e}") from None
    return decode(data, name)


def read_at_most(f: "BinaryIO", limit: int) -> bytes:
    """At most ``limit`` bytes of ``f``, in memory for what it holds: ``read(limit)`` would set
    aside the whole limit (32 MiB) for a file of a few bytes first."""
    size = os.fstat(f.fileno()).st_size
    parts = [f.read(min(size, limit))] if size else []
    got = len(parts[0]) if parts else 0
    while got < limit:  # a file that grew, or one whose size the system does not know (a pipe)
        more = f.read(min(limit - got, 1 << 20))
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text, or an error that says where the first bad byte is."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"'{name}' is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
    if b"\0" in data:
        raise SpecError(f"'{name}' is not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SpecError(f"not valid UTF-8 (byte 0x{data[e.start]:02x})", Location(name, line, column),
                        hint="save the file as UTF-8") from None


def looks_like_listing(text: str) -> bool:
    """The first line that is not blank or a '#' comment starts with '[': a YAML spec never does."""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("[")
    return False


def from_text(text: str, name: str, yaml_only: bool = False) -> NetworkSpec:
    """YAML, unless the text is a layer string (it starts with the input shape) or a cs231n
    listing (its first line is ``[227x227x3] INPUT``)."""
    if not yaml_only and re.match(r"^\s*(\d|input\s*\()", text, re.IGNORECASE):
        from .layer_string import parse_string

        return parse_string(text, name)
    if looks_like_listing(text):
        from .listing import parse_listing

        return parse_listing(text, name)
    from .yaml_reader import parse_yaml

    return parse_yaml(text, name)
