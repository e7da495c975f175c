"""Time to an answer or an error for the inputs that once hung convcalc (issue 11, section 5).

Each case is run in-process through the CLI (Click's CliRunner, as the tests do) and timed; the
goal is "well under a second" for every one. Before the fixes they took 7 s to over 60 s, or
exhausted memory. The exit code is printed too: each must be 0 (an answer) or 2 (a located error),
never 3.

The model files of issue 19 (Caffe prototxt, Keras JSON and .keras) are written to a temporary
folder and read the same way; each is also run once in a fresh interpreter, whose peak resident
memory over that of an empty network is shown in MiB and per byte of the file (the goal: memory that follows the graph, under ~20 bytes a
byte, or a refusal at the limit). Before: an 8 MB Caffe string 1.6 GB; 1M tiny fields 7.3 s and
1 GB; a list of 5M items 15.6 s and 2.1 GB; 200,000 Caffe layers 16.5 s and 1.28 GB; 250,000
Keras layers 9.7 s; a .keras of 1M entries 3.4 s and 569 MB; a 4,301-digit Keras number exit 3.

    python benchmarks/bench_hostile.py [-n 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, List, Optional, Tuple

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


CAFFE_HEAD = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'


def caffe_convs(n: int) -> str:
    """A zoo-style deploy file of n conv + ReLU pairs (with the fillers and lr_mults convcalc skips)."""
    conv = ('layer {\n  name: "c%d"\n  type: "Convolution"\n  bottom: "data"\n  top: "data"\n'
            "  param {\n    lr_mult: 1\n    decay_mult: 1\n  }\n  param {\n    lr_mult: 2\n    decay_mult: 0\n  }\n"
            "  convolution_param {\n    num_output: 3\n    pad: 1\n    kernel_size: 3\n"
            '    weight_filler {\n      type: "xavier"\n    }\n    bias_filler {\n      type: "constant"\n'
            "      value: 0.2\n    }\n  }\n}\n"
            'layer {\n  name: "r%d"\n  type: "ReLU"\n  bottom: "data"\n  top: "data"\n}\n')
    return CAFFE_HEAD + "".join(conv % (i, i) for i in range(n))


def keras_relus(n: int, shape: str = "8") -> str:
    layers = [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8, 8, 3]}}]
    layers += [{"class_name": "ReLU", "config": {"name": f"r{i}"}} for i in range(n)]
    return json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": layers}}).replace(
        "[null, 8, 8, 3]", f"[null, {shape}, 8, 3]")


def keras_zip(path: Path, config: str, entries: int = 0) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", config)
        for i in range(entries):
            z.writestr(f"assets/{i}", b"")


def truncated_keras(path: Path) -> None:
    keras_zip(path, keras_relus(200))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


# (label, file name, its text, or a function that writes it)
FILE_CASES: List[Tuple[str, str, "str | Callable[[Path], None]"]] = [
    ("Caffe 8 MB string", "s.prototxt", CAFFE_HEAD + 'name: "' + "a" * 8_000_000 + '"\n'),
    ("Caffe 8 MB escaped string", "e.prototxt", CAFFE_HEAD + 'name: "' + "\\a" * 4_000_000 + '"\n'),
    ("Caffe 1M tiny fields", "f.prototxt", CAFFE_HEAD + "a: 1\n" * 1_000_000),
    ("Caffe 1M empty messages", "m.prototxt", CAFFE_HEAD + "a{}\n" * 1_000_000),
    ("Caffe list of 5M items", "l.prototxt", CAFFE_HEAD + "a: [" + "1," * 5_000_000 + "1]\n"),
    ("Caffe 200,000 layers", "n.prototxt",
     CAFFE_HEAD + 'layer { type: "ReLU" bottom: "data" top: "data" }\n' * 200_000),
    ("Caffe 2,000 zoo-style layers", "z.prototxt", caffe_convs(1000)),
    ("Keras 250,000 layers", "k.json", keras_relus(250_000)),
    ("Keras 4,301-digit number", "d.json", keras_relus(1, "9" * 4301)),
    (".keras 4,301-digit number", "d.keras", lambda p: keras_zip(p, keras_relus(1, "9" * 4301))),
    (".keras of 70,000 entries", "z.keras", lambda p: keras_zip(p, keras_relus(1), 70_000)),
    (".keras cut in half", "t.keras", truncated_keras),
]


def peak_memory(path: Path) -> int:
    """The peak resident memory, in bytes, of a fresh interpreter running ``table`` on ``path``."""
    # VmHWM, not ru_maxrss: Linux carries a parent's ru_maxrss over fork and exec
    code = ("import sys; from click.testing import CliRunner; from convcalc.cli import cli; "
            "CliRunner().invoke(cli, ['table', sys.argv[1]]); "
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": root}, check=True)
    return int(out.stdout.split()[-1]) * 1024  # in KiB


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
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.prototxt"
        empty.write_text(CAFFE_HEAD, encoding="utf-8")
        baseline = peak_memory(empty)  # the interpreter, convcalc and a table of nothing
        print(f"\n{'model file':<32} {'median':>9}  exit  {'memory':>9}  per byte")
        for label, name, content in FILE_CASES:
            path = Path(folder) / name
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                content(path)
            times, codes = zip(*(once(["table", str(path)], None) for _ in range(args.n)))
            peak = peak_memory(path) - baseline
            median = statistics.median(times)
            mark = "" if median < args.limit and codes[0] in (0, 1, 2) else "  <-- over the goal"
            slow += bool(mark)
            print(f"{label:<32} {median * 1000:>7.0f} ms  {codes[0]:>4}  {peak / 2**20:>5.1f} MiB  "
                  f"{peak / path.stat().st_size:>6.1f}{mark}")
    total = len(CASES) + len(FILE_CASES)
    print(f"{total - slow} of {total} within {args.limit:g} s with exit 0, 1 or 2")
    raise SystemExit(1 if slow else 0)


if __name__ == "__main__":
    main()
