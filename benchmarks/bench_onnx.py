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
"""

from __future__ import annotations

import argparse
import statistics
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

from convcalc.cli import cli  # noqa: E402
from convcalc.engine import analyse  # noqa: E402
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
    args = parser.parse_args()
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
