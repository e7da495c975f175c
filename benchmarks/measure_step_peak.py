"""The peak memory of one training step as PyTorch's own MemTracker measures it: the oracle of
``convcalc plan``'s peak.

    /work/torchvenv/bin/python benchmarks/measure_step_peak.py                      # the table of tests/test_step.py
    /work/torchvenv/bin/python benchmarks/measure_step_peak.py resnet50 --batch 32 --optimizer momentum adam
    /work/torchvenv/bin/python benchmarks/measure_step_peak.py alexnet googlenet squeezenet1_0 \
        shufflenet_v2_x1_0 convnext_tiny swin_t --batch 8 --optimizer sgd adam   # more rules

Needs a Python with ``torch`` and ``torchvision`` (never a dependency of convcalc or of its
tests: tests/test_step.py holds the figures this script printed, as constants).

How it measures: ``torch.distributed._tools.mem_tracker.MemTracker`` under
``torch._subclasses.fake_tensor.FakeTensorMode`` (CPU tensors, nothing allocated), the
torchvision model in ``train()`` mode, float32. The step measured is a steady-state one, the
second: one step runs first, untracked, so that the optimizer's state exists (the first step
of momentum and Adam creates it, and every later step starts with it); then the model, the
optimizer, the input batch (batch, 3, 224, 224) and its int64 labels are handed to
``track_external`` and one step is tracked: forward, cross-entropy loss, ``backward()``,
``optimizer.step()``, ``optimizer.zero_grad()`` (grads set to None). The optimizers are
PyTorch's defaults on the CPU (the single-tensor loops): sgd ``SGD(lr=0.1)``, momentum
``SGD(lr=0.1, momentum=0.9)``, adam ``Adam()``, adamw ``AdamW()``.

With ``--checkpoint`` the model is first wrapped as ``convcalc plan --checkpoint`` models it, with
``torch.utils.checkpoint`` (``use_reentrant=False``, the recommended mode; ``preserve_rng_state``
its default, True): ``blocks`` wraps each repeated block (ResNet's ``layerN[i]`` bottlenecks, ViT's
``encoder.layers[i]``) in ``checkpoint``; ``sqrt`` runs the model as one sequential chain of its
modules (VGG: ``features``' 31, the average pool, a flatten, ``classifier``'s 7; ReLU and dropout
out of place, since a segment that begins with an in-place ReLU overwrites the input checkpoint
keeps, and backward fails; a ResNet: the stem's 4 layers, its 16 bottlenecks, the pool, a flatten
and fc, no segment beginning in place) through ``checkpoint_sequential`` with ``isqrt(n)``
segments, which leaves the last segment unchecked:

    /work/torchvenv/bin/python benchmarks/measure_step_peak.py resnet50 vit_b_16 --checkpoint blocks
    /work/torchvenv/bin/python benchmarks/measure_step_peak.py vgg16 --checkpoint sqrt

Printed per run: MemTracker's peak and its breakdown at the peak, by its categories
(Parameter, Buffer, Gradient, Activation, Temp, Optstate; the input batch and labels are
"Other", as track_external files tensors). The issue's figures (ResNet-50 batch 32 momentum
2,831 MiB) left the input out: they are this script's total minus "Other".
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, Dict, List

import torch
import torchvision
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.distributed._tools.mem_tracker import MemTracker

MODELS: Dict[str, Any] = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "vgg16": torchvision.models.vgg16,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "densenet121": torchvision.models.densenet121,
    "vit_b_16": torchvision.models.vit_b_16,
    # more rules, at one batch (--more): dropout, LRN-free AlexNet, inception's concats, fire
    # modules, channel shuffle and chunks, layer norm and GELU, window attention; the specs
    # leave stochastic depth out, so it is off here
    "alexnet": torchvision.models.alexnet,
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
    "squeezenet1_0": torchvision.models.squeezenet1_0,
    "shufflenet_v2_x1_0": torchvision.models.shufflenet_v2_x1_0,
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(stochastic_depth_prob=0.0),
    "swin_t": lambda: without_stochastic_depth(torchvision.models.swin_t()),
}
MAIN = ("resnet18", "resnet50", "vgg16", "mobilenet_v2", "densenet121", "vit_b_16")


def without_stochastic_depth(model: torch.nn.Module) -> torch.nn.Module:
    for module in model.modules():
        if isinstance(module, torchvision.ops.StochasticDepth):
            module.p = 0.0
    return model
class Checkpointed(torch.nn.Module):
    """A module whose forward runs under non-reentrant activation checkpointing."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.utils.checkpoint import checkpoint

        return checkpoint(self.inner, x, use_reentrant=False)


class SequentialChain(torch.nn.Module):
    """A sequential model's modules as one chain through checkpoint_sequential(isqrt(n) segments)."""

    def __init__(self, modules: List[torch.nn.Module], keep_inplace: bool = False) -> None:
        super().__init__()
        for module in modules if not keep_inplace else ():  # a segment that begins with an in-place ReLU would overwrite the input
            if hasattr(module, "inplace"):  # checkpoint keeps, and backward fails ("modified by an inplace
                module.inplace = False  # operation"): out of place, as convcalc's default convention
        self.chain = torch.nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.utils.checkpoint import checkpoint_sequential

        return checkpoint_sequential(self.chain, math.isqrt(len(self.chain)), x, use_reentrant=False)


def checkpointed(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """``model`` with its repeated blocks (blocks) or its chain (sqrt) checkpointed."""
    if mode == "blocks":
        stages = [getattr(model, f"layer{i}") for i in range(1, 5) if hasattr(model, f"layer{i}")]
        if hasattr(model, "encoder"):
            stages = [model.encoder.layers]
        assert stages, "blocks: a ResNet's layerN or a ViT's encoder.layers"
        for stage in stages:
            for i in range(len(stage)):
                stage[i] = Checkpointed(stage[i])
        return model
    if hasattr(model, "layer1"):  # a ResNet: the stem's layers, each bottleneck, the pool, fc
        stem = [model.conv1, model.bn1, model.relu, model.maxpool]
        blocks = [b for i in range(1, 5) for b in getattr(model, f"layer{i}")]
        return SequentialChain([*stem, *blocks, model.avgpool, torch.nn.Flatten(1), model.fc], keep_inplace=True)
    assert hasattr(model, "features") and hasattr(model, "classifier"), "sqrt: a VGG-like features + classifier"
    return SequentialChain([*model.features, model.avgpool, torch.nn.Flatten(1), *model.classifier])


OPTIMIZERS: Dict[str, Any] = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p),
    "adamw": lambda p: torch.optim.AdamW(p),
}
CATEGORIES = ("Parameter", "Buffer", "Gradient", "Activation", "Temp", "Optstate", "Other")


def measure(model_name: str, batch: int, optimizer_name: str, checkpoint: str = "") -> Dict[str, int]:
    """MemTracker's peak of a steady-state training step, by category, and its total."""
    with FakeTensorMode():
        # fake tensors have no values: an initialiser that looks at them (trunc_normal_'s
        # rejection loop, ViT's) would fail, and the values do not matter to the memory
        truncated, torch.nn.init.trunc_normal_ = torch.nn.init.trunc_normal_, lambda t, *a, **k: t
        try:
            model = MODELS[model_name]()
            if checkpoint:
                model = checkpointed(model, checkpoint)
        finally:
            torch.nn.init.trunc_normal_ = truncated
        model.train()
        optimizer = OPTIMIZERS[optimizer_name](model.parameters())
        x = torch.randn(batch, 3, 224, 224)
        y = torch.randint(0, 1000, (batch,))

        def step() -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        step()  # the first step makes the optimizer's state; the steady state starts with it
        tracker = MemTracker()
        tracker.track_external(model, optimizer, x, y)
        with tracker:
            step()
        peak = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
    by_category = {str(k).split(".")[-1]: v for k, v in peak.items()}
    named = {getattr(k, "value", str(k)): v for k, v in peak.items()}
    out = {c: named.get(c, 0) for c in CATEGORIES}
    out["Total"] = by_category.get("Total", named.get("Total", 0))
    return out


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MAIN))
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--optimizer", nargs="+", default=["sgd", "momentum", "adam"], choices=list(OPTIMIZERS))
    parser.add_argument("--checkpoint", choices=["blocks", "sqrt"], default="",
                        help="checkpoint the repeated blocks, or isqrt(n) segments of the chain")
    args = parser.parse_args(argv)
    for name in args.models:
        for batch in args.batch:
            for optimizer in args.optimizer:
                start = time.perf_counter()
                peak = measure(name, batch, optimizer, args.checkpoint)
                parts = " ".join(f"{c}={peak[c]}" for c in CATEGORIES)
                print(f"{name} batch={batch} {optimizer}{' checkpoint=' + args.checkpoint if args.checkpoint else ''} total={peak['Total']} {parts} "
                      f"({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
