"""Time to an answer or an error for the inputs that once hung convcalc (issue 11, section 5).

Each case is run in-process through the CLI (Click's CliRunner, as the tests do) and timed; the
goal is "well under a second" for every one. Before the fixes they took 7 s to over 60 s, or
exhausted memory. The exit code is printed too: each must be 0 (an answer) or 2 (a located error),
never 3.

    python benchmarks/bench_hostile.py [-n 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's convcalc, installed or not
from convcalc.cli import cli  # noqa: E402

# (label, arguments, standard input)
CASES: List[Tuple[str, List[str], Optional[str]]] = [
    ("convtranspose stride 10^7", ["table", "8x8x3 convtranspose1k1s10000000"], None),
    ("convtranspose kernel 10^7", ["table", "8x8x3 convtranspose1k10000000"], None),
    ("adaptiveavgpool 10^7", ["table", "8x8x3 adaptiveavgpool10000000"], None),
    ("adaptivemaxpool 999,999,999", ["table", "8x8x3 adaptivemaxpool999999999"], None),
    ("upsample 10^9 x480", ["table", "8x8x3 (upsample1000000000)x480"], None),
    ("conv + 20,000 nines", ["table", "8x8x3 conv" + "9" * 20_000], None),
    ("YAML '- cnov' + 50,000 x", ["table", "-"], "input: [8, 8, 3]\nlayers:\n  - cnov" + "x" * 50_000 + "\n"),
    ("listing [?] + 20,000 a", ["check", "-"], "[227x227x3] INPUT\n[?] RELU1: " + "a" * 20_000 + "! 5\n"),
    ("listing 30,000 spaces", ["check", "-"], "[227x227x3] INPUT\n" + " " * 30_000 + "x\n"),
    ("--max-params 1<2000 spaces>!", ["check", "lenet5", "--max-params", "1" + " " * 2000 + "!"], None),
    ("'${' x 100,000", ["table", "8x8x3 " + "${" * 100_000], None),
    ("kernel 3x(5,000 nines)", ["table", "8x8x3 conv8k3x" + "9" * 5000], None),
    ("verify pad100000", ["verify", "8x8x1 pad100000"], None),
    ("verify 10^9x1x1 relu", ["verify", "1000000000x1x1 relu"], None),
    ("(conv4k3p1)x1000000", ["table", "8x8x4 (conv4k3p1)x1000000"], None),
    ("solve --max-kernel 227", ["solve", "--out", "7", "-s", "16", "--max-kernel", "227"], None),
]


def once(args: List[str], stdin: Optional[str]) -> Tuple[float, int]:
    start = time.perf_counter()
    result = CliRunner().invoke(cli, args, input=stdin)
    return time.perf_counter() - start, result.exit_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3, help="runs of each case (the median is shown)")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds a case may take (default 1)")
    args = parser.parse_args()
    slow = 0
    print(f"{'case':<32} {'median':>9}  exit")
    for label, argv, stdin in CASES:
        times, codes = zip(*(once(argv, stdin) for _ in range(args.n)))
        median = statistics.median(times)
        mark = "" if median < args.limit and codes[0] in (0, 1, 2) else "  <-- over the goal"
        slow += bool(mark)
        print(f"{label:<32} {median * 1000:>7.0f} ms  {codes[0]}{mark}")
    print(f"{len(CASES) - slow} of {len(CASES)} within {args.limit:g} s with exit 0, 1 or 2")
    raise SystemExit(1 if slow else 0)


if __name__ == "__main__":
    main()
