"""What PyTorch's autograd really saves for backward: the oracle of convcalc's training memory.

    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py            # the six networks
    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py resnet50 --batch 1 2 -v

Needs a Python with ``torch`` and ``torchvision`` (never a dependency of convcalc or of its
tests: tests/test_training.py holds the figures this script printed, as constants).

How it measures: the torchvision model in ``train()`` mode, float32, on the CPU, one forward
pass of a zero-free random input of batch N (``requires_grad=False``, as a data loader gives
it) under ``torch.autograd.graph.saved_tensors_hooks``. The pack hook sees every tensor an
autograd node saves; a tensor is identified by its storage (``untyped_storage().data_ptr()``),
so a tensor saved by two nodes (a ReLU's output that the next conv saves as its input) and views
of one storage count once, at the storage's ``nbytes``. Parameters (weights, biases, batchnorm's
affine weight) are left out: they are the model's, not activations. Everything else counts: the
network's input when the first conv saves it, int64 max-pool indices, dropout masks,
batchnorm's saved mean and inverse std. ``-v`` prints, per kind of leaf module, the tensors first saved while it ran
(functional ops in ``forward()``, such as ResNet's residual add, count under the module before).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from typing import Any, Dict, List, Tuple

import torch
import torchvision

MODELS: Dict[str, Any] = {
    "resnet50": lambda: torchvision.models.resnet50(),
    "vgg16": lambda: torchvision.models.vgg16(),
    "resnet18": lambda: torchvision.models.resnet18(),
    "alexnet": lambda: torchvision.models.alexnet(),
    # as architectures/googlenet.yaml: the form without the auxiliary classifiers
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
    "squeezenet1_0": lambda: torchvision.models.squeezenet1_0(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet152": lambda: torchvision.models.resnet152(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "densenet121": lambda: torchvision.models.densenet121(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "shufflenet_v2_x1_0": lambda: torchvision.models.shufflenet_v2_x1_0(),
}


def measure(model: torch.nn.Module, batch: int) -> Tuple[int, Dict[str, List[Tuple[str, int]]]]:
    """The bytes of the unique non-parameter storages autograd saves, and what each module kind saved."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: Dict[int, int] = {}
    by_kind: Dict[str, List[Tuple[str, int]]] = defaultdict(list)

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr not in seen:
            seen[ptr] = storage.nbytes()
            by_kind[current[0]].append((f"{tuple(t.shape)} {t.dtype}", storage.nbytes()))
        return t

    current = ["(outside any module)"]

    def enter(module: torch.nn.Module, _: Any) -> None:
        current[0] = type(module).__name__

    hooks = [m.register_forward_pre_hook(enter) for m in model.modules() if not list(m.children())]
    model.train()
    x = torch.randn(batch, 3, 224, 224)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    for hook in hooks:
        hook.remove()
    return sum(seen.values()), by_kind


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, CPU, float32, train mode")
    for name in args.models:
        model = MODELS[name]()
        for batch in args.batch:
            total, by_kind = measure(model, batch)
            print(f"{name:14} batch {batch}: {total:,} bytes saved for backward")
            if args.verbose:
                for kind, saved in sorted(by_kind.items()):
                    print(f"    {kind:32} {len(saved):4} tensors {sum(b for _, b in saved):>14,} B"
                          f"   e.g. {saved[0][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
