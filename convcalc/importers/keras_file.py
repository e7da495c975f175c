"""A Keras model file's JSON config, read safely: ``config.json`` inside a ``.keras`` zip, or
the JSON that ``model.to_json()`` writes, from a file or from a live model (``keras.py`` turns it
into a spec).

What a hostile or broken file gets instead of a traceback or a blow-up (README "Limits"): a zip
listing more than ``MAX_ZIP_ENTRIES`` entries is refused from its end record, before ``zipfile``
lists them; a ``config.json`` larger than the spec limit before it inflates; a file that starts
as a zip but has lost its end (cut short) is called a damaged zip, not bad JSON; a number of more
than ``MAX_DIGITS`` characters is a located error before Python converts it (``int`` refuses
4,300 digits with a ValueError, and is quadratic before that).
"""

from __future__ import annotations

import json
import zipfile
from typing import Any, Dict

from ..errors import Location, SpecError
from ..limits import MAX_DIGITS, MAX_SPEC_BYTES

MODEL_CLASSES = ("Sequential", "Functional", "Model")


def load_config(path: str) -> Dict[str, Any]:
    """The model's JSON config: ``config.json`` inside a ``.keras`` zip, else the file itself."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if zipfile.is_zipfile(path):
            entries = zip_entries(path)
            if entries > MAX_ZIP_ENTRIES:  # zipfile would list them all first: ~570 bytes each
                raise SpecError(f"'{path}' is a zip of {'65,535 or more' if entries == 0xFFFF else f'{entries:,}'} "
                                f"entries: a .keras model file holds a few (convcalc reads at most "
                                f"{MAX_ZIP_ENTRIES:,})")
            with zipfile.ZipFile(path) as archive:
                try:
                    info = archive.getinfo("config.json")
                except KeyError:
                    raise SpecError(f"'{path}' is a zip without config.json: not a .keras model file") from None
                if info.file_size > MAX_SPEC_BYTES:  # as stored; a zip bomb is refused before it inflates
                    raise SpecError(f"'{path}': config.json is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
                with archive.open(info) as f:
                    data = f.read(MAX_SPEC_BYTES + 1)
        elif head == ZIP_MAGIC:
            raise SpecError(f"'{path}' is a damaged or truncated zip: it starts as one (a .keras model file) "
                            "but has no intact end record", hint="copy or save the .keras file again")
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_SPEC_BYTES + 1)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError) as e:
        raise SpecError(f"cannot read '{path}': {getattr(e, 'strerror', None) or e}") from None
    return config_from_bytes(data, path)


def config_from_bytes(data: bytes, path: str) -> Dict[str, Any]:
    """The model's JSON config from the JSON's bytes (a file's, or ``model.to_json()``'s, which
    ``convcalc.from_keras`` reads), checked as a file's is; ``path`` names it in every error."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"'{path}' is larger than convcalc's limit of {MAX_SPEC_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"'{path}' is not UTF-8 JSON (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    try:
        config = json.loads(text, parse_int=whole_number, parse_float=fraction)
    except _LongNumber as e:
        raise SpecError(f"a number of {len(e.args[0]):,} characters: convcalc reads at most {MAX_DIGITS:,}",
                        located(text, text.find(e.args[0]), path, len(e.args[0]))) from None
    except json.JSONDecodeError as e:
        line = e.doc.split("\n")[e.lineno - 1] if e.lineno <= e.doc.count("\n") + 1 else ""
        raise SpecError(f"not valid JSON: {e.msg}", Location(path, e.lineno, e.colno, line)) from None
    except RecursionError:
        raise SpecError(f"'{path}': JSON nested too deeply") from None
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        got = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise SpecError(f"'{path}' is not a Keras model config: expected class_name Sequential, Functional or "
                        f"Model at the top, got {str(got)[:40]!r}",
                        hint="give a .keras file or the JSON of model.to_json()")
    if not isinstance(config.get("config"), (dict, list)):
        raise SpecError(f"'{path}': the Keras model has no 'config'")
    return config


ZIP_MAGIC = b"PK\x03\x04"  # a zip's first local file header

MAX_ZIP_ENTRIES = 1000
"""Most entries a ``.keras`` zip may list: Keras writes three (config.json, metadata.json,
model.weights.h5) and a layer's assets (a vocabulary) a few more."""


def zip_entries(path: str) -> int:
    """How many entries the zip's end record says it holds (0xFFFF: a Zip64 archive, at least
    that many), read from the record alone, before ``zipfile`` lists them."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (22 + 0xFFFF)))  # the record (22 bytes) and a comment of at most 64 KiB
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    return int.from_bytes(tail[at + 10:at + 12], "little") if at >= 0 and len(tail) >= at + 22 else 0


class _LongNumber(Exception):
    """A JSON number longer than MAX_DIGITS, stopped before Python converts it."""


def whole_number(text: str) -> int:
    if len(text) > MAX_DIGITS:  # int() refuses 4,300 digits, and is quadratic before that
        raise _LongNumber(text)
    return int(text)


def fraction(text: str) -> float:
    if len(text) > MAX_DIGITS:
        raise _LongNumber(text)
    return float(text)


def located(text: str, at: int, path: str, width: int) -> Location:
    """Offset ``at`` of the JSON text as file:line:col, with its line."""
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return Location(path, text.count("\n", 0, at) + 1, at - start + 1, text[start:end if end >= 0 else len(text)],
                    width)
