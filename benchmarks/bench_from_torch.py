"""``convcalc.from_torch`` against torchinfo's ``summary`` on the same torchvision model: the
time of each (median of ``-n`` runs, the model built once, in eval mode) and the figures each
gives, so the README's comparison can be re-measured (issue 22: "a benchmark shows from_torch
time against torchinfo's summary on the same model").

from_torch's time is torch.export's trace plus convcalc's walk and analysis; the walk alone
(``read_program`` on the exported program) is shown apart. torchinfo runs the model forward
with hooks. Needs torch, torchvision and torchinfo (none of them convcalc's dependencies):

    PYTHONPATH=. python benchmarks/bench_from_torch.py [-n 3] [resnet50 vit_b_16 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable, List, Tuple

import torch
import torchinfo
import torchvision

import convcalc
from convcalc.analysis.engine import analyse
from convcalc.importers.torch_export import read_program


def timed(f: Callable[[], Any], n: int) -> Tuple[float, Any]:
    times: List[float] = []
    result = None
    for _ in range(n):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["resnet50", "vit_b_16", "swin_t", "convnext_tiny"])
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()
    size = (1, 3, 224, 224)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, torchinfo {torchinfo.__version__}; "
          f"median of {args.n}, input {size}")
    print(f"{'model':<14} {'torchinfo s':>11} {'from_torch s':>12} {'walk s':>7}   "
          f"{'torchinfo mult-adds':>20} {'convcalc MACs':>15}  params (both)")
    for name in args.models:
        model = getattr(torchvision.models, name)(weights=None).eval()
        t_info, info = timed(lambda: torchinfo.summary(model, input_size=size, verbose=0), args.n)
        t_ours, report = timed(lambda: convcalc.from_torch(model, size), args.n)
        program = torch.export.export(model, (torch.zeros(size),))
        t_walk, _ = timed(lambda: analyse(read_program(program, name, {})), args.n)
        same = "=" if info.total_params == report.totals.params else "≠"
        print(f"{name:<14} {t_info:>11.2f} {t_ours:>12.2f} {t_walk:>7.2f}   {info.total_mult_adds:>20,} "
              f"{report.totals.macs:>15,}  {report.totals.params:,} {same}")


if __name__ == "__main__":
    main()
