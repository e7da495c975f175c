"""Devices: the accelerators ``convcalc plan --device NAME`` knows, from their makers' datasheets.

A device's ``memory_bytes`` is the capacity its datasheet gives ("16 GB HBM2"), read as binary
gigabytes (GiB: HBM and GDDR are built of power-of-two chips, and nvidia-smi's totals are
within a few hundred MiB of it: the ECC and driver reserve). What a training run can use is less:
the CUDA context and the caching allocator take their share, and the plan states and subtracts
that headroom separately, never hidden in these figures.

Names are matched without regard to case, spaces, dashes or underscores ("a100-80", "A100 80GB").
Further fields (peak FLOP/s per precision, memory bandwidth) belong here too, each with its
source, for the roofline bound.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..values import value

GIB = 1 << 30


@value
class Device:
    """One accelerator as its datasheet gives it."""

    name: str  # as people write it: "V100 16GB"
    memory_bytes: int  # datasheet capacity, GiB read as 2**30 bytes
    source: str  # the datasheet the figures come from


DEVICES: Tuple[Device, ...] = (
    Device("V100 16GB", 16 * GIB, "NVIDIA Tesla V100 datasheet (SXM2)"),
    Device("V100 32GB", 32 * GIB, "NVIDIA Tesla V100 datasheet (SXM2)"),
    Device("T4", 16 * GIB, "NVIDIA T4 datasheet"),
    Device("A10", 24 * GIB, "NVIDIA A10 datasheet"),
    Device("L4", 24 * GIB, "NVIDIA L4 datasheet"),
    Device("A100 40GB", 40 * GIB, "NVIDIA A100 datasheet (SXM)"),
    Device("A100 80GB", 80 * GIB, "NVIDIA A100 datasheet (SXM)"),
    Device("H100 80GB", 80 * GIB, "NVIDIA H100 datasheet (SXM)"),
    Device("RTX 3090", 24 * GIB, "NVIDIA GeForce RTX 3090 specifications"),
    Device("RTX 4090", 24 * GIB, "NVIDIA GeForce RTX 4090 specifications"),
    Device("Jetson AGX Orin 32GB", 32 * GIB, "NVIDIA Jetson AGX Orin series datasheet (shared with the CPU)"),
    Device("Jetson AGX Orin 64GB", 64 * GIB, "NVIDIA Jetson AGX Orin series datasheet (shared with the CPU)"),
)


def _key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum()).removesuffix("gb")


_BY_KEY: Dict[str, Device] = {_key(d.name): d for d in DEVICES}


def find_device(name: str) -> Optional[Device]:
    """The device called ``name`` ("v100-16", "A100 80GB", "rtx4090"), or None."""
    key = _key(name)
    if key in _BY_KEY:
        return _BY_KEY[key]
    matches = [d for k, d in _BY_KEY.items() if k.startswith(key)]
    return matches[0] if len(matches) == 1 else None


def device_names() -> Tuple[str, ...]:
    """Every known device's name, for a message that lists them."""
    return tuple(d.name for d in DEVICES)
