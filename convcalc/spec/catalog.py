"""The bundled architectures: YAML files in ``architectures/``, looked up by name.

In a wheel the files sit inside the package (``convcalc/architectures``); in a checkout they sit
at the top of the repository. Names ignore case; a few common names are aliases.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

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
