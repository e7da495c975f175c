"""``convcalc plan`` against ``convcalc table`` on the same networks (issue 20: "plan answers in
the same time as table").

Two measures, medians of N interleaved runs each:

- in process: ``analyse`` alone (what ``table`` computes; since the table's training line is the
  step's peak, it includes one ``training`` and one ``step``), then ``plan``'s work: the same
  plus the largest batch for a 16 GiB memory (four more steps on the same analysis: batch 2 and
  3 for the affine lines, the answer and one past it to confirm);
- as commands: ``convcalc table NET`` and ``convcalc plan NET --optimizer adam --memory 16GiB``
  into a pipe, start-up included.

    python benchmarks/bench_plan.py [-n 10] [resnet50 densenet121 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

PY = sys.executable
_SCRIPT = Path(PY).with_name("convcalc.exe" if os.name == "nt" else "convcalc")
CONVCALC = [str(_SCRIPT)] if _SCRIPT.exists() else [PY, "-m", "convcalc"]


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def command(args: List[str]) -> Callable[[], object]:
    return lambda: subprocess.run([*CONVCALC, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  check=True, env={**os.environ, "COLUMNS": "120"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="*", default=["resnet50", "densenet121", "vit_b_16", "vgg16"])
    parser.add_argument("-n", type=int, default=10, help="runs of each (interleaved)")
    args = parser.parse_args()
    from convcalc.analysis.engine import analyse
    from convcalc.analysis.step import largest_batch, step, step_at
    from convcalc.analysis.training import training
    from convcalc.load import load

    for name in args.networks:
        network = load(name)

        def plan_work() -> None:
            report = analyse(network, batch=1)
            step(report, training(report), "adam")
            largest_batch(lambda n: step_at(report, n, "adam"), 16 << 30, 1 << 30)

        cases: Dict[str, Callable[[], object]] = {
            "analyse (table's work)": lambda: analyse(network),
            "plan's work, --memory": plan_work,
            "convcalc table": command(["table", name, "--width", "120"]),
            "convcalc plan --memory": command(["plan", name, "--optimizer", "adam", "--memory", "16GiB",
                                               "--width", "120"]),
        }
        for work in cases.values():
            work()  # warm
        times: Dict[str, List[float]] = {case: [] for case in cases}
        for _ in range(args.n):
            for case, work in cases.items():
                times[case].append(timed(work))
        medians = {case: statistics.median(t) for case, t in times.items()}
        print(name)
        for case, median in medians.items():
            print(f"  {case:26s} {median * 1000:8.1f} ms")
        table, plan, table_cmd, plan_cmd = (medians[case] for case in cases)
        print(f"  plan / table: {plan / table:.2f} in process, {plan_cmd / table_cmd:.2f} as commands")


if __name__ == "__main__":
    main()
