"""The bundled architectures: YAML files in ``architectures/``, looked up by name.

In a wheel the files sit inside the package (``convcalc/architectures``); in a checkout they sit
at the top of the repository. Names ignore case; a few common names are aliases.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

from ..errors import did_you_mean

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

ALIASES: Dict[str, str] = {
    "vgg11": "vgg-a",
    "vgg13": "vgg-b",
    "vgg16": "vgg-d",
    "vgg19": "vgg-e",
    "lenet": "lenet5",
    "lenet-5": "lenet5",
    "mobilenetv2": "mobilenet_v2",
    "mobilenet-v2": "mobilenet_v2",
    "resnet50-v1.5": "resnet50",
    "inception-v1": "googlenet",
    "convnext-tiny": "convnext_tiny",
    "convnext-t": "convnext_tiny",
    "vit-b-16": "vit_b_16",
    "vit-b16": "vit_b_16",
    "shufflenetv2": "shufflenet_v2_x1_0",
    "shufflenet_v2": "shufflenet_v2_x1_0",
    "shufflenet-v2": "shufflenet_v2_x1_0",
    "resnet50-fpn": "resnet50_fpn",
}


def directory() -> str:
    """Where the bundled files are: in the package (as the wheel installs them), else beside it.

    Plain ``os.path``: pathlib (with urllib.parse and ipaddress, which it imports) would add
    2.5 ms to every ``convcalc table NAME``."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # convcalc/
    packaged = os.path.join(package, "architectures")
    return packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(package), "architectures")


def names() -> List[str]:
    """Every bundled architecture's own name (its file name), sorted."""
    return sorted(f[:-5] for f in os.listdir(directory()) if f.endswith(".yaml"))


def aliases_of(name: str) -> List[str]:
    return sorted(a for a, target in ALIASES.items() if target == name)


def find(name: str) -> Optional[str]:
    """The file of bundled architecture ``name`` (or an alias), or None."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if not _NAME.match(key):  # not a name we could have bundled: no file system call at all
        return None
    path = os.path.join(directory(), f"{key}.yaml")
    return path if os.path.isfile(path) else None


def choices() -> List[str]:
    return names() + sorted(ALIASES)


def suggest(word: str, most: int = 10) -> str:
    """A " — did you mean ...?" suffix for a name that is not bundled, or ''.

    The closest name by spelling (``vgg61`` → ``vgg16``), then every architecture whose name
    or alias starts with what was typed, then those that contain it (``vgg`` → ``vgg-a
    (vgg11)``, … ``vgg-d (vgg16)``), each shown once with its aliases, at most ``most``.
    """
    key = word.strip().lower()
    close = did_you_mean(key, choices())
    if len(key) < 2 or not _NAME.match(key):
        return close
    spellings = {name: [name, *aliases_of(name)] for name in names()}
    closest = [c for c in choices() if close == f" — did you mean '{c}'?"]  # as spelt: 'vgg16', not 'vgg-d'
    ranked = [ALIASES.get(c, c) for c in closest]
    for test in (str.startswith, str.__contains__):
        ranked += [n for n, spelt in spellings.items() if n not in ranked and any(test(s, key) for s in spelt)]
    if not ranked:
        return ""

    def shown(name: str) -> str:
        first = closest[0] if closest and ALIASES.get(closest[0], closest[0]) == name else name
        others = [s for s in spellings[name] if s != first]
        return f"'{first}'" + (f" ({', '.join(others)})" if others else "")

    more = f" and {len(ranked) - most} more" if len(ranked) > most else ""
    return f" — did you mean {', '.join(map(shown, ranked[:most]))}{more}?"
