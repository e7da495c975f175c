"""Record torchvision's models as torch.export traces them, for the tests that run without torch.

Each model is exported on one 224x224 RGB sample (800x800 for the ResNet-50 FPN) and its graph written by
convcalc.importers.torch_record (node list, shapes, module paths, which inputs are parameters;
no weights) to tests/fixtures/torch/<model>.json.gz, with the figures torch itself gives:
``sum(p.numel())`` over the parameters. tests/test_from_torch.py reads them back.

Run with a Python that has torch and torchvision (not a dependency of convcalc):

    PYTHONPATH=. /path/to/torch-venv/bin/python benchmarks/record_torch_exports.py [model ...]
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import torch
import torchvision

from convcalc.importers.torch_export import tied
from convcalc.importers.torch_record import record

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"

LOCAL = ("functional", "zoo", "tied", "twice")  # small modules of tests/test_from_torch.py: what torchvision's leave out
MODELS = ["resnet18", "resnet50", "vgg16", "mobilenet_v2", "densenet121", "efficientnet_b0", "convnext_tiny",
          "vit_b_16", "swin_t", "shufflenet_v2_x1_0", "fasterrcnn_mobilenet_v3_large_fpn.backbone",
          "fasterrcnn_resnet50_fpn.backbone", *LOCAL]
SIZES = {"fasterrcnn_resnet50_fpn.backbone": [1, 3, 800, 800],  # as architectures/resnet50_fpn.yaml
         "functional": [1, 8, 10, 10], "zoo": [1, 3, 32, 32], "tied": [1, 8], "twice": [1, 8]}


def build(name: str) -> torch.nn.Module:
    if name in LOCAL:
        from tests.test_from_torch import torch_module

        return torch_module(name)
    if name.endswith(".backbone"):  # a detection model's feature extractor: MobileNetV3 and its FPN
        detector = getattr(torchvision.models.detection, name.split(".")[0])
        return detector(weights=None, weights_backbone=None).backbone
    return getattr(torchvision.models, name)(weights=None)


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or MODELS:
        model = build(name).eval()
        size = SIZES.get(name, [1, 3, 224, 224])
        program = torch.export.export(model, (torch.zeros(size),))
        named = list(model.named_parameters(remove_duplicate=False))
        trainable = {k: p.requires_grad for k, p in named}
        data = record(program, trainable, name, size, tied(named))
        data["torch"] = {"version": torch.__version__, "torchvision": torchvision.__version__,
                         "params": sum(p.numel() for p in model.parameters())}
        text = json.dumps(data, separators=(",", ":"))
        (OUT / f"{name}.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
        print(f"{name}: {len(data['nodes'])} nodes, {len(text):,} bytes of JSON")


if __name__ == "__main__":
    main(sys.argv[1:])
