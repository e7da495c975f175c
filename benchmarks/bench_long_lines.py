"""Time to read the long hostile lines of issue 11 (goal: each well under a second).

Each case runs in a fresh process through the CLI (click's CliRunner), and prints the wall time,
the exit code and the longest output line (an error quotes a window of the line, not all of it).
The inputs grow with --scale, so time that is not linear in the line's length shows at a glance.

    python benchmarks/bench_long_lines.py [--scale 1 2 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

CASES = {
    "kind + 20,000 nines": 'run(["table", "8x8x3 conv" + "9" * 20_000 * S])',
    "YAML '- cnov' + 50,000 x": 'run(["table"], NET + "  - cnov" + "x" * 50_000 * S + "\\n")',
    "listing RELU1: 20,000 a": 'run(["check"], L + "[?] RELU1: " + "a" * 20_000 * S + "! 5\\n")',
    "listing prose, 30,000 spaces": 'run(["check"], L + "a" + " " * 30_000 * S + "\\n[8x8x3] RELU1:\\n")',
    "--max-params 1<2000 spaces>!": 'run(["check", "vgg16", "--max-params", "1" + " " * 2000 * S + "!"])',
    "string '${' x 100,000": 'run(["table", "8x8x3 " + "${" * 100_000 * S])',
    "YAML '${' x 100,000": 'run(["table"], NET + "  - conv" + "${" * 100_000 * S + "\\n")',
}

PRELUDE = '''
import os, sys, tempfile, time
from click.testing import CliRunner
from convcalc.cli import cli
S = {scale}
NET = "input: [32, 32, 3]\\nlayers:\\n"
L = "[8x8x3] INPUT\\n"
def run(args, text=None):
    if text is not None:
        path = os.path.join(tempfile.mkdtemp(), "s.txt" if text.startswith("[") else "s.yaml")
        open(path, "w").write(text)
        args = [*args, path]
    start = time.perf_counter()
    result = CliRunner().invoke(cli, args)
    longest = max(map(len, result.output.splitlines() or [""]))
    print(f"{{time.perf_counter() - start:8.3f}} s  exit {{result.exit_code}}  longest line {{longest:,}}")
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, nargs="+", default=[1])
    root = Path(__file__).resolve().parent.parent
    for scale in parser.parse_args().scale:
        for name, call in CASES.items():
            done = subprocess.run([sys.executable, "-c", PRELUDE.format(scale=scale) + call], cwd=root,
                                  capture_output=True, text=True, timeout=600)
            print(f"x{scale}  {name:32} {done.stdout.strip() or done.stderr.strip()[-200:]}")


if __name__ == "__main__":
    main()
