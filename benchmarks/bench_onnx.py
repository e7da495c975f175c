"""Reading ResNet-50's ONNX graph: convcalc's time beyond ``import onnx``, against onnx's own
shape inference on the same model (issue 14: "well under a second beyond the onnx import itself;
report the ratio against onnx-tool or onnx's own shape inference").

The graph is built here with onnx.helper, layer for layer as torchvision exports ResNet-50
(Conv without bias, BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm),
initializers holding only their dims: 25,557,032 params, the bundled resnet50's figures (checked).
No shapes are recorded in the file, as an exporter without shape inference writes it. Timed:

- ``onnx.load`` alone;
- ``onnx.shape_inference.infer_shapes`` on the loaded model (what onnx itself does);
- ``convcalc table resnet50.onnx`` in-process through the CLI (load, shape inference, the walk,
  the engine, the table), and the read alone (``load``: file to NetworkSpec).

    python benchmarks/bench_onnx.py [-n 5] [--keep resnet50.onnx]

``--large`` adds files with their weights in them (issue 14: "a 1 GB file"), each read in a fresh
process: the time of ``load`` and ``analyse`` (file to totals) and the peak resident memory, also
above what the imports take (``ru_maxrss``; tracemalloc cannot see protobuf's C++ allocations). The weights are
zeros: ResNet-50 (102 MB) and VGG-16 (553 MB) written out in full, and VGG-16 with a 2 GiB tensor
more (2.6 GB, over protobuf's 2 GiB limit for one message; written sparse). ``--against DIR``
times another checkout of convcalc on the same files (say, the commit before onnx_wire).

    python benchmarks/bench_onnx.py --large [--against /tmp/before] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's convcalc, installed or not

t0 = time.perf_counter()
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

IMPORT_ONNX = time.perf_counter() - t0

from click.testing import CliRunner  # noqa: E402

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.cli import cli  # noqa: E402
from convcalc.importers.onnx_wire import varint_bytes as varint  # noqa: E402
from convcalc.load import load  # noqa: E402


def resnet50() -> Any:
    nodes: List[Any] = []
    inits: List[Any] = []

    def weight(name: str, dims: List[int]) -> str:
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(dims)  # dims only: the weights are absent, as with external data
        inits.append(t)
        return name

    def conv_bn(name: str, x: str, c_in: int, c_out: int, k: int, s: int, relu: bool = True) -> str:
        p = k // 2
        nodes.append(helper.make_node("Conv", [x, weight(f"{name}.weight", [c_out, c_in, k, k])], [f"{name}.c"],
                                      name=f"/{name}/Conv", kernel_shape=[k, k], strides=[s, s], pads=[p] * 4))
        bn = [weight(f"{name}.bn.{w}", [c_out]) for w in ("weight", "bias", "running_mean", "running_var")]
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.c", *bn], [f"{name}.bn"], name=f"/{name}/bn"))
        if not relu:
            return f"{name}.bn"
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.r"], name=f"/{name}/Relu"))
        return f"{name}.r"

    x = conv_bn("conv1", "input", 3, 64, 7, 2)
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="/maxpool/MaxPool", kernel_shape=[3, 3],
                                  strides=[2, 2], pads=[1] * 4))
    x, c_in = "pool", 64
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=1):
        for b in range(blocks):
            s, n = (stride if b == 0 else 1), f"layer{stage}.{b}"
            y = conv_bn(f"{n}.conv1", x, c_in, width, 1, 1)
            y = conv_bn(f"{n}.conv2", y, width, width, 3, s)
            y = conv_bn(f"{n}.conv3", y, width, 4 * width, 1, 1, relu=False)
            short = conv_bn(f"{n}.downsample", x, c_in, 4 * width, 1, s, relu=False) if b == 0 else x
            nodes.append(helper.make_node("Add", [y, short], [f"{n}.add"], name=f"/{n}/Add"))
            nodes.append(helper.make_node("Relu", [f"{n}.add"], [f"{n}.out"], name=f"/{n}/Relu_out"))
            x, c_in = f"{n}.out", 4 * width
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="/avgpool/GlobalAveragePool"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="/Flatten"),
              helper.make_node("Gemm", ["flat", weight("fc.weight", [1000, 2048]), weight("fc.bias", [1000])],
                               ["output"], name="/fc/Gemm", transB=1)]
    graph = helper.make_graph(nodes, "resnet50", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                 [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def vgg16() -> Any:
    """VGG-16 (configuration D) as torchvision exports it: 138,357,544 params, the bundled vgg16's."""
    nodes: List[Any] = []
    inits: List[Any] = []

    def weight(name: str, dims: List[int]) -> str:
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(dims)
        inits.append(t)
        return name

    x, c_in = "input", 3
    for stage, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, convs + 1):
            n = f"conv{stage}_{i}"
            nodes.append(helper.make_node("Conv", [x, weight(f"{n}.weight", [width, c_in, 3, 3]),
                                                   weight(f"{n}.bias", [width])], [n], name=n,
                                          kernel_shape=[3, 3], pads=[1] * 4))
            nodes.append(helper.make_node("Relu", [n], [f"{n}.r"], name=f"{n}.relu"))
            x, c_in = f"{n}.r", width
        nodes.append(helper.make_node("MaxPool", [x], [f"pool{stage}"], name=f"pool{stage}", kernel_shape=[2, 2],
                                      strides=[2, 2]))
        x = f"pool{stage}"
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten"))
    x, c_in = "flat", 512 * 7 * 7
    for i, units in enumerate((4096, 4096, 1000), start=6):
        nodes.append(helper.make_node("Gemm", [x, weight(f"fc{i}.weight", [units, c_in]), weight(f"fc{i}.bias", [units])],
                                      [f"fc{i}"], name=f"fc{i}", transB=1))
        x, c_in = f"fc{i}", units
        if i < 8:
            nodes.append(helper.make_node("Relu", [x], [f"fc{i}.r"], name=f"fc{i}.relu"))
            x = f"fc{i}.r"
    graph = helper.make_graph(nodes, "vgg16", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 1000])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def write_with_weights(model: Any, path: str, sparse_extra: int = 0) -> int:
    """``model`` with every initializer's raw_data filled in (float32 zeros), streamed to ``path``
    in chunks: the weights are never in memory. ``sparse_extra`` adds one more initializer of that
    many bytes, unused, left as a hole in the file. Returns the file's size."""
    inits = list(model.graph.initializer)
    if sparse_extra:
        t = TensorProto()
        t.name, t.data_type = "unused.extra", TensorProto.UINT8
        t.dims.append(sparse_extra)
        inits.append(t)
    model.graph.ClearField("initializer")
    entries = []  # (the bytes before the data, data length, fill it or leave a hole)
    for t in inits:
        size = 4 * math.prod(t.dims) if t.data_type == TensorProto.FLOAT else math.prod(t.dims)
        head = t.SerializeToString() + b"\x4a" + varint(size)  # raw_data: field 9, length-delimited
        entries.append((b"\x2a" + varint(len(head) + size) + head, size, t.name != "unused.extra"))  # initializer: 5
    graph = model.graph.SerializeToString()
    model.ClearField("graph")
    length = len(graph) + sum(len(head) + size for head, size, _ in entries)
    zeros = bytes(8 << 20)
    with open(path, "wb") as f:
        f.write(model.SerializeToString() + b"\x3a" + varint(length) + graph)  # graph: field 7
        for head, size, fill in entries:
            f.write(head)
            if not fill:
                f.seek(size, os.SEEK_CUR)
                continue
            while size > 0:
                f.write(zeros[:min(size, len(zeros))])
                size -= len(zeros)
        f.truncate(f.tell())
        return f.tell()


CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import onnx
from convcalc.engine import analyse
from convcalc.errors import ConvcalcError
from convcalc.load import load
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
try:
    totals = analyse(load(sys.argv[2])).totals
    outcome = f"params {totals.params:,}"
except ConvcalcError as e:
    outcome = "refused: " + str(e)[:90]
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps([seconds, (peak - base) / 1024, peak / 1024, outcome]))
"""


def in_fresh_process(checkout: str, path: str) -> Tuple[float, float, float, str]:
    out = subprocess.run([sys.executable, "-c", CHILD, checkout, path], capture_output=True, text=True, check=True)
    seconds, above, peak, outcome = json.loads(out.stdout)
    return seconds, above, peak, outcome


def large(args: Any) -> None:
    here = str(Path(__file__).resolve().parent.parent)
    checkouts = [("this checkout", here)] + ([("--against", args.against)] if args.against else [])
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        files = [("resnet50 + weights", resnet50(), 0), ("vgg16 + weights", vgg16(), 0),
                 ("vgg16 + weights + 2 GiB", vgg16(), 2 << 30)]
        print(f"{'file':26} {'bytes':>15} {'checkout':14} {'load':>9} {'peak RSS':>9} {'above imports':>14}  outcome")
        for label, model, extra in files:
            path = str(Path(tmp) / "model.onnx")
            size = write_with_weights(model, path, extra)
            for name, checkout in checkouts:
                runs = [in_fresh_process(checkout, path) for _ in range(args.n_large)]
                seconds = statistics.median(r[0] for r in runs)
                above, peak = (statistics.median(r[i] for r in runs) for i in (1, 2))
                print(f"{label:26} {size:>15,} {name:14} {seconds * 1000:7.0f}ms {peak:6.0f}MiB {above:11.0f}MiB  "
                      f"{runs[0][3][:60]}")
            os.unlink(path)


def best(fn: Callable[[], Any], n: int) -> Tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--keep", help="also write the model here")
    parser.add_argument("--large", action="store_true", help="time files with their weights in them instead")
    parser.add_argument("--against", help="another convcalc checkout to time on the large files")
    parser.add_argument("--dir", help="where to write the large files (they take up to 700 MB of disk)")
    parser.add_argument("--n-large", type=int, default=3, help="fresh processes per large file and checkout")
    args = parser.parse_args()
    if args.large:
        return large(args)
    model = resnet50()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or str(Path(tmp) / "resnet50.onnx")
        Path(path).write_bytes(model.SerializeToString())
        print(f"resnet50.onnx: {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, "
              f"{Path(path).stat().st_size:,} bytes")
        imported, bundled = analyse(load(path)).totals, analyse(load("resnet50")).totals
        assert (imported.params, imported.macs) == (bundled.params, bundled.macs), (imported, bundled)
        print(f"params {imported.params:,}, MACs {imported.macs:,}: equal to the bundled resnet50")
        runner = CliRunner()
        result = runner.invoke(cli, ["table", path])
        assert result.exit_code == 0, result.output
        loaded = onnx.load(path, load_external_data=False)
        rows = [("import onnx (once, cold)", IMPORT_ONNX, IMPORT_ONNX),
                ("onnx.load", *best(lambda: onnx.load(path, load_external_data=False), args.n)),
                ("onnx.shape_inference.infer_shapes", *best(lambda: onnx.shape_inference.infer_shapes(loaded), args.n)),
                ("convcalc: read the file to a spec", *best(lambda: load(path), args.n)),
                ("convcalc table resnet50.onnx", *best(lambda: runner.invoke(cli, ["table", path]), args.n))]
    print(f"{'':38} {'best':>9} {'median':>9}")
    for label, lo, med in rows:
        print(f"{label:38} {lo * 1000:8.1f}ms {med * 1000:8.1f}ms")
    infer, read, table = rows[2][1], rows[3][1], rows[4][1]
    print(f"ratio to onnx's shape inference (best times): read {read / infer:.1f}x (it runs that inference "
          f"too), whole table {table / infer:.1f}x")


if __name__ == "__main__":
    main()
