"""What each tool says a training step needs, beside what PyTorch's MemTracker measures: the
README's side-by-side (issue #20).

    /work/torchvenv/bin/python benchmarks/compare_training_memory.py            # batch 32, Adam, float32

Needs a Python with torch, torchvision and torchinfo (none of them a dependency of convcalc) and
convcalc importable (PYTHONPATH=. from the repository). For each torchvision network:

- torchinfo 1.8's ``summary(model, input_size)``: its "Estimated Total Size" (input + "forward/
  backward pass size", every leaf module's output counted twice, + the parameters); it counts no
  gradients and no optimizer state;
- accelerate's ``estimate-memory`` (accelerate/commands/estimate.py, ``estimate_training_usage``):
  for float32 with Adam, 4 x the parameters' bytes (weights, gradients, two Adam states) whatever
  the batch; it needs the model on the Hugging Face Hub, so its formula is applied here;
- ``convcalc plan NAME --batch B --optimizer adam --backend cpu``'s peak (no torch involved);
- MemTracker's peak of the same steady-state step (measure_step_peak.py), the truth.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torchinfo
import torchvision

sys.path.insert(0, str(Path(__file__).parent))
from measure_step_peak import measure  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.analysis.step import step  # noqa: E402
from convcalc.analysis.training import training  # noqa: E402
from convcalc.load import load  # noqa: E402

# torchvision's VGG-16 (adaptive average pool, no softmax), as tests/test_step.py writes it
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
SPECS = {"vgg16": "224x224x3 " + " ".join("maxpool" if c == "M" else f"conv{c}k3p1 relu" for c in VGG16)
                  + " adaptiveavgpool7 fc4096 relu dropout fc4096 relu dropout fc1000"}
MIB = 1 << 20


def main() -> None:
    batch, optimizer = 32, "adam"
    print(f"batch {batch}, {optimizer}, float32 (MiB)")
    print(f"{'network':14} {'torchinfo':>10} {'accelerate':>10} {'convcalc':>10} {'MemTracker':>10}")
    for name in ("resnet18", "resnet50", "vgg16", "mobilenet_v2", "densenet121", "vit_b_16"):
        model = getattr(torchvision.models, name)()
        info = torchinfo.summary(model, input_size=(batch, 3, 224, 224), verbose=0, device="cpu")
        torchinfo_total = info.total_input + info.total_output_bytes + info.total_param_bytes
        params = sum(p.numel() for p in model.parameters())
        accelerate = 4 * params * 4
        report = analyse(load(SPECS.get(name, name)), batch=batch)
        ours = step(report, training(report, backend="cpu"), optimizer).peak_bytes
        truth = measure(name, batch, optimizer)["Total"]
        print(f"{name:14} {torchinfo_total / MIB:10,.0f} {accelerate / MIB:10,.0f} {ours / MIB:10,.0f} "
              f"{truth / MIB:10,.0f}", flush=True)


if __name__ == "__main__":
    main()
