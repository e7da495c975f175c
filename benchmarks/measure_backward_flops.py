"""Backward MACs as PyTorch's ``FlopCounterMode`` counts them: the oracle of ``convcalc plan``'s
``bwd MACs`` (tests/test_training.py holds the figures this script printed, as constants).

    /work/torchvenv/bin/python benchmarks/measure_backward_flops.py resnet18 resnet50 vgg16 ...

Needs a Python with torch and torchvision (never a dependency of convcalc). For each torchvision
model (train mode, float32, one 224x224 image, input not requiring a gradient) it counts the
forward's FLOPs, then the backward's of a sum of the output (the loss's own few FLOPs are not a
layer's), each halved to MACs: FlopCounterMode counts 2 per multiply-accumulate. Its registry
counts convolutions, mm/addmm/bmm and attention; the backward of a convolution is its
grad-input and grad-weight convolutions. In torch 2.14 it overcounts a grouped convolution's
backward (pytorch issue 183405), so the figures are taken on networks without groups.
"""

from __future__ import annotations

import sys

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode


def measure(name: str) -> tuple:
    model = getattr(torchvision.models, name)().train()
    x = torch.randn(1, 3, 224, 224)
    with FlopCounterMode(display=False) as forward:
        out = model(x)
    out = out.logits if hasattr(out, "logits") else out
    with FlopCounterMode(display=False) as backward:
        out.sum().backward()
    return forward.get_total_flops() // 2, backward.get_total_flops() // 2


if __name__ == "__main__":
    for name in sys.argv[1:]:
        f, b = measure(name)
        print(f"    \"{name}\": ({f:_}, {b:_}),", flush=True)
