"""The front door: from what the user typed to a NetworkSpec — a file (a spec, or a model file
for its reader in importers/), ``-`` for stdin, a bundled name, or a layer string."""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from typing import Optional

from .errors import SpecError
from .limits import MAX_SPEC_BYTES
from .shape import Shape
from .spec import catalog
from .spec.model import NetworkSpec
from .spec.source import decode, from_text, load_file

_LOOKS_LIKE_STRING = re.compile(r"^\s*(\d|input\s*\()|[\s,]|->", re.IGNORECASE)


def load(arg: str, stdin: Optional[bytes] = None, input: Optional[Shape] = None) -> NetworkSpec:
    """Resolve ``arg``: an existing file, ``-`` (read stdin), a bundled architecture, or a layer string.
    ``input`` (``--input``): the shape to read a model file that records none at (TorchScript)."""
    if arg == "-":
        return from_text(decode(stdin if stdin is not None else read_stdin(), "<stdin>"), "<stdin>")
    status = file_status(arg)
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise SpecError(f"'{arg}' is a directory, not a spec file")
    if status is not None:  # a regular file, or a pipe such as /dev/stdin
        from .importers import reader_for

        reader = reader_for(arg, input)  # a model file (.onnx ...): its format's reader, importers/
        if reader is None:
            return load_file(arg)
        from pathlib import (
            Path,  # only for a model file: pathlib costs every other command 2.5 ms
        )

        return reader(Path(arg), arg)
    bundled = catalog.find(arg)
    if bundled is not None:
        return load_file(bundled, display=f"architectures/{os.path.basename(bundled)}")
    if _LOOKS_LIKE_STRING.search(arg):
        from .spec.layer_string import parse_string

        return parse_string(arg)
    from .importers import suffixes

    if arg.lower().endswith((".yaml", ".yml", ".txt", *suffixes())) or "/" in arg or "\\" in arg:
        raise SpecError(f"no such file: '{arg}'")
    raise SpecError(
        f"'{arg}' is not a file, a bundled architecture or a layer string{catalog.suggest(arg)}",
        hint="`convcalc list` shows the bundled architectures; a layer string starts with the input, "
             "e.g. '224x224x3 conv64k3p1'",
    )


# What stat says when there is no such file: then the text may be a bundled name or a layer
# string. Any other refusal (permission denied on a directory on the way, a symbolic-link loop)
# is about a file that may well be there, and is said as it is, not as "no such file".
_ABSENT = frozenset((errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG))


def file_status(arg: str) -> Optional[os.stat_result]:
    """The status of file ``arg`` (following links), or None when there is no such file."""
    try:
        return os.stat(arg)
    except ValueError:  # a NUL byte: no file can have that name
        return None
    except OSError as e:
        if e.errno in _ABSENT:
            return None
        raise SpecError(f"cannot read '{arg}': {e.strerror or e}") from None


def read_stdin() -> bytes:
    """Standard input's bytes (up to one past the limit), or an error that says why there are none."""
    if sys.stdin is None:  # the shell closed it (`<&-`)
        raise SpecError("cannot read '-': standard input is closed")
    try:
        return sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
    except OSError as e:
        raise SpecError(f"cannot read '-': {e.strerror or e}") from None
