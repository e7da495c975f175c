"""Views and the matrix product (issue 14: what model files write between layers): reshape,
permute, take and matmul. Hand counts from the definitions (``torch.reshape``, ``permute``,
``select``, ``torch.matmul``), attention written out as a transformer export writes it equal to
the ``attention`` rule, and the engine against the reference on random shapes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.errors import ShapeError
from convcalc.load import load
from convcalc.reference.verify import verify
from convcalc.report.rows import table_rows
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml
from tests.test_hostile import assert_clean, run

ATTENTION = """
name: attention-written-out
input: [{L}, {C}]
layers:
  - pwlinear: {{units: {C3}}}
  - reshape: {{to: [{L}, 3, {h}, {d}]}}
  - permute: {{order: [1, 2, 0, 3]}}
    name: heads
  - take: {{index: 0}}
    name: q
  - take: {{index: 1}}
    from: heads
  - permute: {{order: [0, 2, 1]}}
    name: kt
  - take: {{index: 2}}
    from: heads
    name: v
  - matmul: {{from: [q, kt]}}
    name: scores
  - softmax
  - matmul: {{from: [softmax1, v]}}
  - permute: {{order: [1, 0, 2]}}
  - reshape: {{to: [{L}, {C}]}}
  - pwlinear: {{units: {C}}}
"""


def network(yaml_text: str):
    return analyse(parse_yaml(yaml_text, "<test>"))


def test_hand_counts():
    r = network("""
input: [6, 4]
layers:
  - reshape: {to: [2, 3, 4]}
  - permute: {order: [2, 0, 1]}
  - take: {index: 3, axis: 0}
  - relu: {}
    name: a
  - permute: {order: [1, 0]}
    name: b
  - matmul: {from: [a, b]}
""")
    shapes = [x.output.dims for x in r.layers]
    # 6x4 = 24 elements as 2x3x4; dims (4, 2, 3); index 3 of the first: 2x3; its transpose 3x2;
    # (2x3) @ (3x2) = 2x2, each of the 4 outputs a sum of 3 products: 12 MACs
    assert shapes == [(2, 3, 4), (4, 2, 3), (2, 3), (2, 3), (3, 2), (2, 2)]
    assert r.layers[-1].macs == 2 * 2 * 3 and r.totals.params == 0


def test_batched_matmul_broadcasts_the_leading_dims():
    r = network("""
input: [5, 7]
layers:
  - reshape: {to: [1, 5, 7]}
    name: a
  - pwlinear: {units: 28, bias: false}
    from: input
  - reshape: {to: [4, 1, 7, 5]}
    name: b
  - matmul: {from: [a, b]}
""")
    # (1x5x7) @ (4x1x7x5): leading (1) and (4, 1) broadcast to (4, 1); 4·5·5 outputs of 7 products
    assert r.layers[-1].output.dims == (4, 1, 5, 5) and r.layers[-1].macs == 4 * 5 * 5 * 7


@pytest.mark.parametrize("L, C, h", [(197, 768, 12), (10, 8, 2), (50, 64, 4)])
def test_attention_written_out_counts_as_the_attention_rule(L, C, h):
    """A transformer export's attention: qkv projection, heads split, Q·Kᵀ, softmax, A·V, heads
    joined, output projection: the same MACs as ``attention`` (4·L·C² + 2·L²·C)."""
    out = network(ATTENTION.format(L=L, C=C, C3=3 * C, h=h, d=C // h))
    rule = analyse(parse_string(f"{L}x{C} attention{h}"))
    assert out.totals.macs == rule.totals.macs == 4 * L * C * C + 2 * L * L * C
    assert out.totals.params == rule.totals.params  # 3C·C + 3C and C·C + C
    assert out.layers[-1].output == rule.layers[-1].output


@pytest.mark.parametrize("spec, fragment", [
    ("input: [6, 4]\nlayers:\n  - reshape: {to: [5, 5]}", "6x4 holds 24 elements; the dims 5x5 hold 25"),
    ("input: [6, 4]\nlayers:\n  - permute: {order: [0, 0]}", "order [0, 0] is not a permutation of the 2 dims"),
    ("input: [6, 4]\nlayers:\n  - take: {index: 6}", "index 6 does not exist along axis 0 of 6x4"),
    ("input: [6, 4]\nlayers:\n  - take: {axis: 2}", "axis 2 does not exist in 6x4"),
    ("input: [6, 4]\nlayers:\n  - relu: {}\n    name: a\n  - matmul: {from: [a, input]}",
     "the last dim of the first (4) to equal the second to last of the second (6)"),
    ("input: [6, 4]\nlayers:\n  - slice: {start: 6}", "6:6:1 takes nothing of the 6 along axis 0 of 6x4"),
    ("input: [6, 4]\nlayers:\n  - slice: {axis: 1, stop: 2}\n    name: a\n  - concat: {from: [a, input], axis: 0}",
     "concat along axis 0 needs the other dims to match"),
    ("input: [6, 4]\nlayers:\n  - relu: {}\n    name: a\n  - add: {from: [a, input], axis: 0}",
     "got 'axis'"),
    ("input: [6, 4]\nlayers:\n  - relu: {}\n    name: a\n  - concat: {from: [a, input], axis: -1}",
     "axis:"),
])
def test_refusals_are_located(tmp_path, spec, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(spec)
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert fragment in result.output and "bad.yaml:" in result.output


def test_matmul_mismatch_says_what_would_meet():
    with pytest.raises(ShapeError) as info:
        network("input: [6, 4]\nlayers:\n  - relu: {}\n    name: a\n  - matmul: {from: [a, input]}")
    assert "permute" in info.value.hint


dims = st.lists(st.integers(1, 4), min_size=2, max_size=4)


@settings(max_examples=60, deadline=None)
@given(dims, st.randoms(use_true_random=False), st.integers(1, 3))
def test_views_and_products_agree_with_the_reference(shape, rnd, k):
    # (slices: a strided range from 'start' and the part before it, joined back along the axis)
    """The engine's shapes and MACs for random views and products equal what the reference
    measures doing them (verify runs each layer on real numbers)."""
    order = list(range(len(shape)))
    rnd.shuffle(order)
    axis = rnd.randrange(len(shape))
    start, step = rnd.randrange(shape[axis]), rnd.randrange(1, 3)
    rest_stop = f", stop: {start}" if start else ""
    inferred = "{inferred}"  # the part before 'start' (all of it when 0)
    to = [math.prod(shape[:-1]), shape[-1]]
    spec = f"""
input: {list(shape)}
layers:
  - permute: {{order: {order}}}
    name: p
  - reshape: {{to: {list(shape)}}}
  - take: {{index: {shape[axis] - 1}, axis: {axis}}}
    from: input
  - reshape: {{to: {to}}}
    from: input
    name: a
  - pwlinear: {{units: {k}, bias: false}}
    name: b
  - permute: {{order: [1, 0]}}
    name: bt
  - matmul: {{from: [bt, a]}}
  - permute: {{order: [1, 0]}}
    from: a
    name: at
  - matmul: {{from: [at, b]}}
  - slice: {{axis: {axis}, start: {start}, step: {step}}}
    from: input
    name: part
  - slice: {{axis: {axis}{rest_stop}}}
    from: input
    name: rest
  - concat: {{from: [part, rest], axis: {axis}}}
  - reshape: {{to: {inferred}}}
    from: input
"""
    inferred = list(shape)
    inferred[rnd.randrange(len(shape))] = -1  # the reference infers it as PyTorch does
    spec = spec.replace("{inferred}", str(inferred))
    report = network(spec)
    checked = verify(report, seed=1)
    assert checked.count("verified") == len(report.layers), [(c.name, c.reason) for c in checked.layers]
    n, c = to
    n_part = len(range(start, shape[axis], step)) + (start or shape[axis])
    assert report.layers[-2].output.dims == tuple(shape[:axis]) + (n_part,) + tuple(shape[axis + 1:])
    products = [r.macs for r in report.layers if r.layer.kind == "matmul"]
    assert products == [k * n * c, c * n * k]  # (k x n) @ (n x c), then (c x n) @ (n x k)
    assert report.layers[-1].output.dims == tuple(shape)  # the -1 inferred back to its size


@pytest.mark.parametrize("text, output, description", [
    ("8x8x4 reshape256", (256,), "RESHAPE 256"),  # was described as 'RESHAPE 256x256'
    ("8x8x4 reshape16x4x4", (16, 4, 4), "RESHAPE 16x4x4"),  # was "reshape has no option 'x'"
    ("8x8x4 reshape-1x64", (4, 64), "RESHAPE -1x64"),
    ("8x8x4 reshape64x-1", (64, 4), "RESHAPE 64x-1"),
    ("8x8x4 reshape2x-1x16", (2, 8, 16), "RESHAPE 2x-1x16"),
    ("8x8x4 reshape-1", (256,), "RESHAPE -1"),
    ("8x8x4 permute1x0x2", (8, 8, 4), "PERMUTE 1,0,2"),
    ("6x8x4 permute2x0x1", (4, 6, 8), "PERMUTE 2,0,1"),
    ("8x6x4 maxpool2x3", (4, 2, 4), "MAX POOL 2x3 s2x3"),  # any per-axis leading option
])
def test_layer_strings_take_every_dim_yaml_takes(text, output, description):
    layer = analyse(parse_string(text)).layers[-1]
    assert layer.output.dims == output and layer.layer.describe() == description


def test_minus_one_is_the_same_network_in_yaml_and_in_the_string():
    yaml_layer = network("input: [8, 8, 4]\nlayers:\n  - reshape: {to: [-1, 64]}").layers[-1]
    assert yaml_layer.output.dims == (4, 64) and yaml_layer.layer == parse_string("8x8x4 reshape-1x64").layers[0].layer


def test_minus_one_holds_a_window_partition_at_every_input_size():
    """Swin's partition, written once: 7x7 windows of C channels, however many windows there are."""
    for side in (14, 28, 56):
        out = analyse(parse_string(f"{side}x{side}x96 reshape-1x7x7x96")).layers[-1].output
        assert out.dims == ((side // 7) ** 2, 7, 7, 96)


@pytest.mark.parametrize("text, fragment, hint", [
    ("8x8x4 reshape64", "8x8x4 holds 256 elements; the dims 64 hold 64", "64x-1 gives 64x4"),
    ("8x8x4 reshape-1x3", "not a multiple of 3, so no size fits the -1 in -1x3", "a divisor of 256"),
    ("8x8x4 reshape-1x2x5", "not a multiple of 2x5 = 10", "a divisor of 256"),
    ("8x8x4 reshape-1x-1", "at most one dim can be -1 (inferred), got 2", ""),
    ("8x8x4 reshape0x4", "expected a positive whole number, or -1 for the dim to infer, got 0", ""),
    ("8x8x4 reshape-2x4", "or -1 for the dim to infer, got -2", ""),
    ("8x8x4 permute-1x0x2", "unexpected '-'", "permute1x0x2"),
])
def test_reshape_refusals_are_located_with_the_fix(text, fragment, hint):
    result = run("table", text)
    assert_clean(result, (2,))
    assert "<string>:1:" in result.output
    assert fragment in result.output and hint in result.output


def test_a_tensor_of_too_many_dims_is_refused_located(tmp_path):
    """Every size is bounded, so the number of dims must be too: 200 dims of 1,000 is a count of
    10^600, which no float renders (it once ended in an internal error)."""
    path = tmp_path / "dims.yaml"
    path.write_text("input: [" + ", ".join(["1000"] * 200) + ", 3]\nlayers:\n  - relu\n")
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "at most 16" in result.output and "dims.yaml:1" in result.output
    path.write_text("input: [64, 3]\nlayers:\n  - reshape: {to: [" + ", ".join(["1"] * 17) + ", 192]}\n")
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "at most 16" in result.output and "dims.yaml:3" in result.output


def test_a_matmul_over_the_budget_is_verified_by_rows_and_columns():
    """(4x20x16) @ (4x16x20) with a budget far below its 25,600 MACs: one batch of every row
    against one column, and one row against every column, composed to the full figures."""
    report = network("""
input: [4, 20, 16]
layers:
  - relu: {}
    name: a
  - permute: {order: [0, 2, 1]}
    name: b
  - matmul: {from: [a, b]}
""")
    product = report.layers[-1]
    assert product.macs == 4 * 20 * 16 * 20
    checked = verify(report, budget=2_000)
    verdict = next(c for c in checked.layers if c.index == product.index)
    assert verdict.status == "verified" and verdict.scaled and len(verdict.runs) == 2
    assert verdict.measured.macs == product.macs and verdict.measured.output == product.output


@pytest.mark.parametrize("option", ["reshape: {to: [%s]}", "permute: {order: [%s]}"])
def test_a_list_of_100000_dims_is_refused_before_anything_multiplies_it(tmp_path, option):
    """(It once multiplied 100,000 sizes of 10^9 and failed formatting the product.)"""
    values = ", ".join(["1000000000"] * 100_000) if "to" in option else ", ".join(map(str, range(100_000)))
    path = tmp_path / "long.yaml"
    path.write_text("input: [4, 3]\nlayers:\n  - " + option % values + "\n")
    result = run("table", str(path))
    assert_clean(result, (2,))
    assert "100,000 dims; convcalc takes at most 16" in result.output


VIEWS = ["8x8x4 reshape16x4x4 conv2k3", "8x8x4 permute1x0x2 conv2k3", "8x8x4 take1 conv2k3",
         "input: [8, 8, 4]\nlayers:\n  - slice: {axis: 0, start: 2}\n  - conv: {filters: 2, kernel: 3}\n"]


@pytest.mark.parametrize("text", VIEWS)
def test_a_view_does_not_claim_its_units_see_the_whole_input(text):
    """A unit of a view is one input element moved or kept: its field is not the whole input
    (as a view's fields were once reported, 'sees the whole 8x8 input'), and where it lands is
    no sliding window, so fields stop there, saying why, and no layer after it is said to cover."""
    report = analyse(parse_yaml(text) if text.startswith("input:") else load(text))
    view, conv = report.fields
    assert (view.status, conv.status) == ("untracked", "untracked")
    assert view.why.startswith(f"'{report.layers[0].name}' ") and "fields are not followed past it" in view.why
    assert report.covering == 0
    assert not any(n.code == "sees-whole-input" for row in table_rows(report) for n in row.notes)
