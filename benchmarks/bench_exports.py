"""Reading real exports: each torchvision model in tests/fixtures/onnx (PyTorch's exporters, weights
stripped), the time to read it to a spec (``load``: skim, shape folding and inference, the walk)
and to analyse it, best of ``-n`` runs, after ``import onnx``.

    python benchmarks/bench_exports.py [-n 3]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's convcalc, installed or not

import onnx  # noqa: E402,F401  (imported once, outside the timings)

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.load import load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()
    print(f"{'file':34} {'nodes':>6} {'read':>9} {'analyse':>9}  params / MACs")
    with tempfile.TemporaryDirectory() as tmp:
        for packed in sorted((ROOT / "tests" / "fixtures" / "onnx").glob("*.onnx.gz")):
            path = Path(tmp) / packed.name[:-3]
            path.write_bytes(gzip.decompress(packed.read_bytes()))
            nodes = len(onnx.load(str(path), load_external_data=False).graph.node)
            reads, analyses = [], []
            for _ in range(args.n):
                t0 = time.perf_counter()
                spec = load(str(path))
                t1 = time.perf_counter()
                report = analyse(spec)
                reads.append(t1 - t0)
                analyses.append(time.perf_counter() - t1)
            t = report.totals
            print(f"{path.name:34} {nodes:>6} {min(reads) * 1000:>7.1f}ms {min(analyses) * 1000:>7.1f}ms  "
                  f"{t.params:,} / {t.macs:,}")


if __name__ == "__main__":
    main()
