"""What a picture's legend calls a kind: a reader's words, not a spec's identifiers.

A layer's family (conv, pool, up ...) is already a word; a block's kind is whatever its spec
named it (``bottleneck_proj``, ``inverted_res``, ``cnblock``, ``DOUBLE_CONV``). The bundled
architectures' kinds are named here as their papers name them; any other kind is read as words
(lower case, ``_`` and ``-`` as spaces). Kinds with one name share one colour and one legend
entry (ResNet's ``bottleneck`` and ``bottleneck_proj`` are both bottlenecks).
"""

from __future__ import annotations

from typing import Dict

NAMES: Dict[str, str] = {
    "basic": "basic block", "basic_down": "basic block",  # ResNet-18/34
    "bottleneck": "bottleneck", "bottleneck_proj": "bottleneck",  # ResNet-50 ...
    "inverted": "inverted residual", "inverted_res": "inverted residual",  # MobileNetV2
    "mbconv": "MBConv", "mbconv_down": "MBConv",  # MaxViT
    "cnblock": "ConvNeXt block",
    "double_conv": "double conv",  # U-Net
    "basic_conv": "conv + BN + ReLU",  # GoogLeNet's BasicConv2d
    "conv_relu": "conv + ReLU",
    "dw_sep": "depthwise separable",  # MobileNetV1
    "unit": "ShuffleNet unit", "down_unit": "ShuffleNet unit",
    "swin_block": "Swin block",
    "encoder_layer": "encoder layer",
}


def kind_name(kind: str) -> str:
    """``bottleneck_proj`` -> ``bottleneck``; ``DOUBLE_CONV`` -> ``double conv``; ``conv`` -> ``conv``."""
    key = kind.lower()
    return NAMES.get(key, key.replace("_", " ").replace("-", " "))
