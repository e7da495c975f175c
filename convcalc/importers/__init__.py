"""Readers of the model files people already have: each turns one file format into a NetworkSpec.

The registry below is the one place a format is plugged in: a file suffix, and the module and
function that read it. A reader is imported only when a file of its kind is read, so its
dependency (``onnx`` for ONNX) costs nothing to anyone who never opens such a file, and a
missing optional dependency is a clear error, not an import failure at start-up.

A reader is ``read(path_or_text, origin) -> NetworkSpec``: ``path_or_text`` is the file's path
(a ``pathlib.Path``; a text format may be handed its text as a ``str`` instead), ``origin`` the
name errors and the report show. It raises ``SpecError`` for a file it cannot read.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Callable, Dict, Optional, Set, Tuple, Union

from ..spec.model import NetworkSpec

if TYPE_CHECKING:  # a reader gets a Path; choosing one needs only the suffix (pathlib loads slowly)
    from pathlib import Path

    from ..shape import Shape

Reader = Callable[[Union["Path", str], str], NetworkSpec]

# suffix (lower case, with its dot) -> (module in this package, function). One line per format.
READERS: Dict[str, Tuple[str, str]] = {
    ".onnx": ("onnx", "read_onnx"),
    ".keras": ("keras", "read_keras"),
    ".json": ("keras", "read_json"),
    ".prototxt": ("caffe", "read_caffe"),  # a Keras config (model.to_json()), else a spec written as JSON
    ".pt2": ("torch_export", "read_pt2"),  # torch.export.save's program; needs torch (convcalc[torch])
}


SIZED: Dict[str, Tuple[str, str]] = {
    ".pt": ("torchscript", "read_torchscript"),  # torch.jit.save's module; needs torch and an input size (--input)
}
"""Formats that record no input size: their reader also takes ``--input``'s shape (None: not given)."""


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def safe_name(text: str) -> str:
    """A file's name for a tensor made a convcalc name (``options.tensor_name``), for every
    reader: '/layer1/0/conv1/Conv' -> 'layer1.0.conv1.Conv', 'a b' -> 'a_b'."""
    name = _UNSAFE.sub("_", text.strip("/").replace("/", ".")).strip(".-")
    return (name or "t")[:190]


def unique_name(base: str, taken: Set[str]) -> str:
    """``base``, or ``base_2``, ``base_3`` ... the first not in ``taken`` (added to it); never
    'input', the network's input's name."""
    name, k = base, 1
    while name in taken or name.lower() == "input":
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def reader_for(path: "Union[Path, str]", input: "Optional[Shape]" = None) -> Optional[Reader]:
    """The reader registered for ``path``'s suffix, imported now; None for any other file.
    ``input``: the shape to read a format that records none at (``SIZED``)."""
    suffix = os.path.splitext(path)[1].lower()
    entry = READERS.get(suffix) or SIZED.get(suffix)
    if entry is None:
        return None
    module, function = entry
    found = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    if suffix in SIZED:
        return lambda path, origin: found(path, origin, input)
    reader: Reader = found
    return reader


def suffixes() -> Tuple[str, ...]:
    return (*READERS, *SIZED)
