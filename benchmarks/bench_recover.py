"""How long ``recover`` (the block recovery of ``convcalc import``) takes as graphs grow (goal:
linear; 20,000 layers well under a second).

Three flat graphs as the readers give them, each 1,000 / 10,000 / 20,000 layers (20,000 is
MAX_LAYERS), parsed once, then recovered and written back as YAML:

- residual: conv, relu, conv, a 1x1 projection read through 'from', a sum of named tensors;
  every sum becomes a block and the identical blocks fold into one repeated item;
- inception: a fork into four branches of three layers, concatenated;
- cross: every fourth layer a sum of two tensors from far back, so no merge is a block and every
  one is tried and refused (the worst case the pass's budget bounds).

    python benchmarks/bench_recover.py [--sizes 1000 10000 20000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's convcalc, installed or not

from convcalc.importers.recover import recover
from convcalc.spec.model import count_layers
from convcalc.spec.yaml_reader import parse_yaml
from convcalc.spec.yaml_writer import to_yaml


def residual(layers: int) -> str:
    items = []
    for k in range(layers // 5):
        prev = f"x{k - 1}" if k else "input"
        items += [f"  - {{conv: {{filters: 8, kernel: 3, padding: 1}}, name: a{k}, from: {prev}}}",
                  f"  - {{relu: {{}}, name: r{k}}}",
                  f"  - {{conv: {{filters: 8, kernel: 3, padding: 1}}, name: b{k}}}",
                  f"  - {{conv: {{filters: 8, kernel: 1}}, name: p{k}, from: {prev}}}",
                  f"  - {{add: {{from: [b{k}, p{k}]}}, name: x{k}}}"]
    return "input: [16, 16, 8]\nlayers:\n" + "\n".join(items) + "\n"


def inception(layers: int) -> str:
    items = []
    for k in range(layers // 13):
        prev = f"m{k - 1}" if k else "input"
        for b in range(4):
            items += [f"  - {{conv: {{filters: 2, kernel: 1}}, name: c{k}_{b}_0, from: {prev}}}",
                      f"  - {{relu: {{}}, name: c{k}_{b}_1}}",
                      f"  - {{conv: {{filters: 2, kernel: 3, padding: 1}}, name: c{k}_{b}_2}}"]
        items.append(f"  - {{concat: {{from: [{', '.join(f'c{k}_{b}_2' for b in range(4))}]}}, name: m{k}}}")
    return "input: [16, 16, 8]\nlayers:\n" + "\n".join(items) + "\n"


def cross(layers: int) -> str:
    rng = random.Random(14)
    items = []
    for k in range(1, layers + 1):
        if k % 4 == 0:
            a, b = rng.randrange(1, k), rng.randrange(1, k)
            items.append(f"  - {{add: {{from: [t{a}, t{b}]}}, name: t{k}}}")
        else:
            items.append(f"  - {{relu: {{}}, name: t{k}}}")
    return "input: [16, 16, 8]\nlayers:\n" + "\n".join(items) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 20000])
    args = parser.parse_args()
    gc.disable()  # as the CLI runs (cli/__init__.py)
    # CPU time of this process: the figure that does not move when other work shares the machine
    print(f"{'graph':<10} {'layers':>7} {'recover':>9} {'per 1,000':>10} {'to_yaml':>9}  YAML lines before -> after")
    for build in (residual, inception, cross):
        for size in args.sizes:
            spec = parse_yaml(build(size), f"{build.__name__}.yaml")
            layers = count_layers(spec.layers)
            start = time.process_time()
            done = recover(spec)
            took = time.process_time() - start
            start = time.process_time()
            text = to_yaml(done)
            written = time.process_time() - start
            print(f"{build.__name__:<10} {layers:>7,} {took * 1000:>7.0f}ms {took * 1e6 / layers:>8.0f}ms"
                  f" {written * 1000:>7.0f}ms  {len(to_yaml(spec).splitlines()):,} -> {len(text.splitlines()):,}")


if __name__ == "__main__":
    main()
