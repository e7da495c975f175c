"""Multiplies per second: the reference convolution against a straightforward nested loop.

    python benchmarks/bench_reference.py            # a few VGG/AlexNet-like layers, scaled
    python benchmarks/bench_reference.py --repeat 5

Both run the same layer on the same input and weights in the same process; the nested loop is
the textbook six-deep one (filter, row, column, channel, kernel row, kernel column) with index
arithmetic per multiply. The outputs are compared, so the fast one is also the right one.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convcalc import reference as ref  # noqa: E402
from convcalc.reference import Tensor  # noqa: E402

# (name, input C, H, W, filters, kernel, stride, padding): true spatial sizes, channels scaled
# as `convcalc verify` runs them, plus one layer with the true channels on a small input.
LAYERS: Sequence[Tuple[str, int, int, int, int, int, int, int]] = (
    ("vgg conv1_2 (4 ch)", 4, 224, 224, 4, 3, 1, 1),
    ("alexnet conv1 (3→4 ch)", 3, 227, 227, 4, 11, 4, 0),
    ("alexnet conv2 (4 ch)", 4, 27, 27, 4, 5, 1, 2),
    ("vgg conv5_1 (512 ch, 3x3)", 512, 3, 3, 512, 3, 1, 1),
)


def nested_loop_conv(x: Tensor, weight: Sequence[float], bias: Sequence[float], filters: int, k: int, s: int,
                     p: int) -> Tuple[List[float], int]:
    """The textbook convolution: one multiply per innermost turn, indices computed each time."""
    c_in, h, w = x.shape
    h2, w2 = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    data = x.data
    out = []
    multiplies = 0
    for f in range(filters):
        for i in range(h2):
            for j in range(w2):
                acc = bias[f]
                for c in range(c_in):
                    for di in range(k):
                        for dj in range(k):
                            y, z = i * s + di - p, j * s + dj - p
                            v = data[(c * h + y) * w + z] if 0 <= y < h and 0 <= z < w else 0.0
                            acc += weight[((f * c_in + c) * k + di) * k + dj] * v
                            multiplies += 1
                out.append(acc)
    return out, multiplies


def best_time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per layer; the best counts (default 3)")
    args = parser.parse_args(argv)
    rng = random.Random(0)
    print(f"{'layer':28} {'MACs':>12} {'nested loop':>14} {'reference':>14} {'speedup':>8}")
    total_naive = total_ref = 0.0
    total_macs = 0
    for name, c, h, w, filters, k, s, p in LAYERS:
        conv = ref.Conv.random(rng, c, filters, k, 2, s, p)
        x = Tensor.random((c, h, w), rng)
        result = conv(x)
        bias = conv.bias if conv.bias is not None else [0.0] * filters
        naive_out, naive_macs = nested_loop_conv(x, conv.weight, bias, filters, k, s, p)
        assert naive_macs == result.macs, (naive_macs, result.macs)
        assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(naive_out, result.output.data))
        t_ref = best_time(lambda: conv(x), args.repeat)
        t_naive = best_time(lambda: nested_loop_conv(x, conv.weight, bias, filters, k, s, p), max(1, args.repeat // 2))
        total_naive, total_ref, total_macs = total_naive + t_naive, total_ref + t_ref, total_macs + result.macs
        print(f"{name:28} {result.macs:>12,} {result.macs / t_naive / 1e6:>9.2f} M/s {result.macs / t_ref / 1e6:>9.2f} M/s "
              f"{t_naive / t_ref:>7.1f}x")
    print(f"{'all':28} {total_macs:>12,} {total_macs / total_naive / 1e6:>9.2f} M/s "
          f"{total_macs / total_ref / 1e6:>9.2f} M/s {total_naive / total_ref:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
