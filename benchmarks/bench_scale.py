"""How analysis time grows with the size of a spec (goal: linear; 10,000 layers well under 1 s).

Generates chains of 1,000, 10,000 and 20,000 layers (20,000 is MAX_LAYERS) (alternating a 3x3 conv and a ReLU) as YAML
and as a layer string, runs ``convcalc table SPEC --format json`` on each in a fresh process,
and prints the wall time, the peak memory (where the platform reports it) and the time per
1,000 layers, so growth that is not linear shows at a glance.

    python benchmarks/bench_scale.py [--sizes 1000 10000 20000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_specs(directory: Path, layers: int) -> tuple[Path, Path]:
    yaml_path = directory / f"chain{layers}.yaml"
    string_path = directory / f"chain{layers}.txt"
    with open(yaml_path, "w") as f:
        f.write(f"name: chain{layers}\ninput: [64, 64, 8]\nlayers:\n")
        f.write("  - conv: {filters: 8, kernel: 3, padding: 1}\n  - relu\n" * (layers // 2))
    string_path.write_text("64x64x8 " + " ".join(["conv8k3p1", "relu"] * (layers // 2)))
    return yaml_path, string_path


def run(args: list[str], stdin: Path | None = None) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(stdin) if stdin else open("/dev/null") as source:
        subprocess.run([sys.executable, "-m", "convcalc", *args], stdin=source, stdout=subprocess.DEVNULL,
                       check=True)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024  # KiB -> MiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 20_000])
    sizes = parser.parse_args().sizes
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'layers':>8}  {'format':6}  {'time':>8}  {'per 1k':>8}  {'peak RSS':>9}")
        for layers in sizes:
            yaml_path, string_path = write_specs(Path(tmp), layers)
            for name, args, stdin in (("yaml", ["table", str(yaml_path), "--format", "json"], None),
                                      ("string", ["table", "-", "--format", "json"], string_path)):
                elapsed, peak = run(args, stdin)
                print(f"{layers:8,}  {name:6}  {elapsed:7.2f}s  {elapsed / layers * 1000:7.3f}s  {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
