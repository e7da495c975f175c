"""The reference layers against the seeds' worked numbers, hand-computed cases and naive oracles.

The oracles here are the definitions written as plainly as possible: one coordinate at a time,
zero outside the input, one multiply per loop turn. They share no code with ``reference.py``
(which pads, slices and zips), so agreement means both read the definition the same way.
"""

from __future__ import annotations

import glob
import itertools
import math
import random
import re
from array import array
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc import reference as ref
from convcalc.analysis.engine import analyse
from convcalc.load import load
from convcalc.reference import Tensor
from convcalc.reference.verify import Settings, verify_layer

SETTINGS = settings(max_examples=60, deadline=None)
SEEDS = Path("/work/shared/seeds")


def close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(a, b))


def weights(*values: float) -> "array[float]":
    return array("d", values)


# --- naive oracles ------------------------------------------------------------------------------


def value_at(x: Tensor, c: int, coords: Sequence[int]) -> float:
    """x[c, coords], or 0 outside the input (zero padding)."""
    index = c
    for i, n in zip(coords, x.spatial):
        if not 0 <= i < n:
            return 0.0
        index = index * n + i
    return x.data[index]


def naive_conv(x: Tensor, weight: Sequence[float], bias: Optional[Sequence[float]], filters: int,
               kernel: Sequence[int], stride: Sequence[int], pads: Sequence[Tuple[int, int]],
               dilation: Sequence[int], groups: int) -> Tuple[Tensor, int, int]:
    """Direct convolution: returns the output, the multiplies made and the distinct weights read."""
    starts = []
    for n, k, s, d, (before, after) in zip(x.spatial, kernel, stride, dilation, pads):
        axis, first = [], -before
        while first + d * (k - 1) <= n - 1 + after:
            axis.append(first)
            first += s
        starts.append(axis)
    per_in, per_out = x.channels // groups, filters // groups
    taps = list(itertools.product(*(range(k) for k in kernel)))
    out, multiplies, read = [], 0, set()
    for f in range(filters):
        for position in itertools.product(*starts):
            acc = bias[f] if bias is not None else 0.0
            for ci in range(per_in):
                c = (f // per_out) * per_in + ci
                for ti, tap in enumerate(taps):
                    w = (f * per_in + ci) * len(taps) + ti
                    acc += weight[w] * value_at(x, c, [p + t * d for p, t, d in zip(position, tap, dilation)])
                    multiplies += 1
                    read.add(w)
            out.append(acc)
    return Tensor((filters, *(len(a) for a in starts)), out), multiplies, len(read)


def naive_pool(x: Tensor, kernel: Sequence[int], stride: Sequence[int], pad: Sequence[int], ceil_mode: bool,
               mode: str, count_include_pad: bool = True, dilation: Optional[Sequence[int]] = None) -> Tensor:
    """PyTorch's pooling, transcribed from its C++ (output size formula, hstart/hend, divisor)."""
    dilation = dilation or [1] * len(kernel)
    outs = []
    for n, k, s, p, d in zip(x.spatial, kernel, stride, pad, dilation):
        top = n + 2 * p - d * (k - 1) - 1
        o = (-(-top // s) if ceil_mode else top // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        if o < 1:
            raise ValueError("Output size is too small")
        outs.append(o)
    out = []
    for c in range(x.channels):
        for position in itertools.product(*(range(o) for o in outs)):
            lo = [o * s - p for o, s, p in zip(position, stride, pad)]
            if mode == "max":  # the taps lo + t·D that land inside the input; none (dilated) gives −∞
                taps = [[a + t * d for t in range(k) if 0 <= a + t * d < n]
                        for a, k, d, n in zip(lo, kernel, dilation, x.spatial)]
                out.append(max((value_at(x, c, idx) for idx in itertools.product(*taps)), default=-math.inf))
                continue
            hi = [min(a + k, n + p) for a, k, n, p in zip(lo, kernel, x.spatial, pad)]
            size = math.prod(h - a for a, h in zip(lo, hi))
            lo_in = [max(a, 0) for a in lo]
            hi_in = [min(h, n) for h, n in zip(hi, x.spatial)]
            values = [value_at(x, c, idx) for idx in itertools.product(*(range(a, h) for a, h in zip(lo_in, hi_in)))]
            divisor = size if count_include_pad else math.prod(h - a for a, h in zip(lo_in, hi_in))
            out.append(sum(values) / divisor)
    return Tensor((x.channels, *outs), out)


# --- the seeds' worked numbers ----------------------------------------------------------------


def test_seed_2x2_patch_with_an_all_ones_kernel_gives_6():
    # 004: [[1, 1], [2, 2]] * [[1, 1], [1, 1]] -> 6, and the next patch [[1, 0], [3, 2]] too
    conv = ref.Conv(1, 1, (2, 2), weights(1, 1, 1, 1))
    for patch in ([[1, 1], [2, 2]], [[1, 0], [3, 2]]):
        result = conv(Tensor.of([patch]))
        assert result.output.nested() == [[[6]]]
        assert result.macs == 4
    assert conv.params == 4


def test_seed_filter_w1_to_w4_slides_over_the_12_pixel_image():
    # 004: o1 = w1 + 2·w2 + 7·w3 + 8·w4 and o2 = 2·w1 + 3·w2 + 8·w3 + 9·w4. Those products put 7
    # under 1, so the image is 2 rows of 6 (the seed's text shows the pixels 1..12 re-flowed into
    # 3 columns). Weights 1, 10, 100, 1000 keep each product in its own decimal place.
    image = Tensor.of([[[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]])
    result = ref.Conv(1, 1, (2, 2), weights(1, 10, 100, 1000))(image)
    o1 = 1 * 1 + 2 * 10 + 7 * 100 + 8 * 1000
    o2 = 2 * 1 + 3 * 10 + 8 * 100 + 9 * 1000
    assert result.output.shape == (1, 1, 5)
    assert result.output.nested()[0][0][:2] == [o1, o2] == [8721, 9832]
    assert result.macs == 5 * 4


def test_seed_max_pool_and_its_shifted_copy():
    # 004: A's 2x2 max pool is [[20, 30], [112, 37]]; B is A shifted right by one column of zeros
    # ("x = 0"), whose pool is [[12, 30], [112, 100]]: small shifts change little.
    a = [[12, 20, 30, 0], [8, 12, 2, 0], [34, 70, 37, 4], [112, 100, 25, 12]]
    assert ref.MaxPool(2, 2)(Tensor.of([a])).output.nested() == [[[20, 30], [112, 37]]]
    b = [[0, *row[:3]] for row in a]
    assert ref.MaxPool(2, 2)(Tensor.of([b])).output.nested() == [[[12, 30], [112, 100]]]
    assert ref.MaxPool(2)(Tensor.of([a])).macs == 0


def cs231n_demo() -> Tuple[List[List[List[int]]], List[List[List[int]]], List[List[List[int]]]]:
    """The input volume and filters of the cs231n conv demo as seed 002 prints them (channels first)."""
    text = next(iter(glob.glob(str(SEEDS / "002_*.txt"))), None)
    if text is None:
        pytest.skip("seed 002 is not available")
    block = Path(text).read_text(encoding="utf-8")
    block = block[block.index("Input Volume (+pad 1)"):block.index("Output Volume")]

    def rows_after(marker: str, count: int) -> List[List[int]]:
        lines = block[block.index(marker):].splitlines()[1:]
        return [list(map(int, line.split())) for line in lines if re.match(r"^-?\d", line)][:count]

    padded = [rows_after(f"x[:, :, {c}]", 7) for c in range(3)]
    w0 = rows_after("w0[:, :, 0]", 11)
    w1 = rows_after("w1[:, :, 0]", 9)
    return padded, [w0[3 * c:3 * c + 3] for c in range(3)], [w1[3 * c:3 * c + 3] for c in range(3)]


def test_seed_cs231n_demo_volume_5x5x3_pad_1_stride_2_two_filters():
    """The cs231n demo layout: 5x5x3 input, pad 1, stride 2, two 3x3x3 filters -> 3x3x2.

    Seed 002 gives the padded 7x7x3 input in full (its zero border is checked below), and W1's
    27 values. The rest is garbled: W0 prints 33 values for 27 weights, the biases are missing,
    the output shows 3 of its 9 values (9, 2, 0), and the worked sums (9, 1, −2) match no window
    of the input shown (the demo draws new numbers on every page load). So: the seed's input,
    W1 as printed, W0 = the first 27 values printed, biases 1 and 0 as in the demo, and the
    expected volume computed by hand. One value written out, o[0, 0, 1] (W1, top-left window):
    channel 0: 0·0 + 2·0 + 0·(−1) + 0·0 + 2·0 + 1·1 = 1; channel 1: 0·(−1) + 1·1 + 2·(−1)
    + 0·(−1) + 1·0 + 2·1 = 1; channel 2: 0 + 0 + 0 + 0·1 + 1·1 + 1·0 = 1; plus bias 0: 3.
    """
    padded, w0, w1 = cs231n_demo()
    for plane in padded:
        assert plane[0] == plane[6] == [0] * 7 and all(row[0] == row[6] == 0 for row in plane)
    x = Tensor.of([[row[1:6] for row in plane[1:6]] for plane in padded])
    assert x.shape == (3, 5, 5)
    flat = [v for w in (w0, w1) for plane in w for row in plane for v in row]
    conv = ref.Conv(3, 2, (3, 3), array("d", flat), weights(1, 0), stride=2, padding=1)
    result = conv(x)
    assert result.output.shape == (2, 3, 3)  # 3x3x2: (5 − 3 + 2·1)/2 + 1 = 3
    assert result.output.nested() == [
        [[2, 7, 6], [14, 14, 9], [7, 11, 8]],
        [[3, 3, 1], [8, 5, 2], [-5, 0, 4]],
    ]
    assert conv.params == 2 * 27 + 2
    assert result.macs == 3 * 3 * 27 * 2


# --- hand-written cases -------------------------------------------------------------------------


def test_dilation_skips_inputs():
    # kernel [1, 10] with dilation 2 reads x[i] and x[i + 2]
    result = ref.Conv(1, 1, (2,), weights(1, 10), dilation=2)(Tensor.of([[1, 2, 3, 4, 5]]))
    assert result.output.nested() == [[31, 42, 53]]
    assert result.macs == 6
    # 2-D: a 2x2 kernel dilated by 2 covers 3x3, so a 5x5 input gives 3x3
    x = Tensor.of([[[10 * r + c for c in range(5)] for r in range(5)]])
    out = ref.Conv(1, 1, (2, 2), weights(1, 0, 0, 1), dilation=2)(x).output
    assert out.nested() == [[[0 + 22, 1 + 23, 2 + 24], [10 + 32, 11 + 33, 12 + 34], [20 + 42, 21 + 43, 22 + 44]]]


def test_groups_keep_filters_to_their_channels():
    # two channels, two filters, groups 2: filter 0 sees channel 0 only, filter 1 channel 1 only
    x = Tensor.of([[1, 2], [3, 4]])
    conv = ref.Conv(2, 2, (1,), weights(2, 10), groups=2)
    result = conv(x)
    assert result.output.nested() == [[2, 4], [30, 40]]
    assert (conv.params, result.macs) == (2, 4)  # dense would be 4 weights, 8 multiplies
    dense = ref.Conv(2, 2, (1,), weights(2, 0, 0, 10))(x)
    assert dense.output.nested() == [[2, 4], [30, 40]] and dense.macs == 8


def test_transposed_conv_scatters_each_input():
    # 1-D, kernel [1, 10, 100], stride 2: input 1 writes 1, 10, 100 at 0..2; input 2 writes 2, 20, 200 at 2..4
    x = Tensor.of([[1, 2]])
    full = ref.ConvTranspose(1, 1, (3,), weights(1, 10, 100), stride=(2,))(x)
    assert full.output.nested() == [[1, 10, 102, 20, 200]]
    assert full.macs == 6
    cropped = ref.ConvTranspose(1, 1, (3,), weights(1, 10, 100), stride=(2,), padding=1)(x)
    assert cropped.output.nested() == [[10, 102, 20]]
    assert cropped.macs == 6  # the products that fell in the crop were made all the same
    extra = ref.ConvTranspose(1, 1, (3,), weights(1, 10, 100), stride=(2,), padding=1, output_padding=1)(x)
    assert extra.output.nested() == [[10, 102, 20, 200]]
    biased = ref.ConvTranspose(1, 1, (3,), weights(1, 10, 100), weights(5), stride=(2,), padding=1,
                               output_padding=1)(x)
    assert biased.output.nested() == [[15, 107, 25, 205]]


def test_transposed_conv_2x2_stride_2_doubles_the_size():
    x = Tensor.of([[[1, 2], [3, 4]]])
    result = ref.ConvTranspose(1, 1, (2, 2), weights(1, 1, 1, 1), stride=(2, 2))(x)
    assert result.output.nested() == [[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]
    assert result.macs == 16


def test_pools_with_padding_and_ceil_mode():
    x = Tensor.of([[1, 2, 3, 4, 5]])
    assert ref.MaxPool(2, 2, ceil_mode=True)(x).output.nested() == [[2, 4, 5]]
    # the overhanging window averages what it sees: 5/1, as PyTorch
    assert ref.AvgPool(2, 2, ceil_mode=True)(x).output.nested() == [[1.5, 3.5, 5.0]]
    # PyTorch drops a last window that would start in the right padding: 3 windows, not 4
    assert ref.MaxPool(2, 2, padding=1, ceil_mode=True)(x).output.nested() == [[1, 3, 5]]
    # count_include_pad: [0, 1, 2] / 3 and [4, 5, 0] / 3, or only the inputs
    assert ref.AvgPool(3, 2, padding=1)(x).output.nested() == [[1.0, 3.0, 3.0]]
    assert ref.AvgPool(3, 2, padding=1, count_include_pad=False)(x).output.nested() == [[1.5, 3.0, 4.5]]
    with pytest.raises(ValueError, match="does not fit"):
        ref.MaxPool(7)(x)


def test_same_padding_puts_the_odd_pixel_after():
    assert ref.same_pads(4, 3, 2) == (0, 1)
    assert ref.same_pads(224, 7, 2) == (2, 3)
    assert ref.same_pads(5, 3, 1) == (1, 1)
    out = ref.Conv(1, 1, (3,), weights(1, 1, 1), padding="same", stride=2)(Tensor.of([[1, 2, 3, 4]]))
    assert out.output.nested() == [[1 + 2 + 3, 3 + 4 + 0]]


def test_adaptive_and_global_pools():
    x = Tensor.of([[1, 2, 3, 4, 5]])  # windows [0, 2), [1, 4), [3, 5)
    assert ref.AdaptivePool(3, "avg")(x).output.nested() == [[1.5, 3.0, 4.5]]
    assert ref.AdaptivePool(3, "max")(x).output.nested() == [[2, 4, 5]]
    y = Tensor.of([[[1, 2], [3, 6]], [[0, -1], [-2, -5]]])
    assert ref.GlobalPool("avg")(y).output.nested() == [[[3.0]], [[-2.0]]]
    assert ref.GlobalPool("max")(y).output.nested() == [[[6]], [[0]]]
    assert ref.AdaptivePool((1, 2), "max")(y).output.nested() == [[[3, 6]], [[0, -1]]]


def test_linear_flatten_and_batchnorm():
    fc = ref.Linear(3, 2, weights(1, 0, 0, 0, 1, 1), weights(0, 1))
    result = fc(Tensor.of([1, 2, 3]))
    assert result.output.nested() == [1, 6]
    assert (fc.params, result.macs) == (8, 6)
    assert ref.Flatten()(Tensor.of([[[1, 2]], [[3, 4]]])).output.nested() == [1, 2, 3, 4]  # channel by channel
    bn = ref.BatchNorm(weights(2, 1), weights(1, 0), weights(1, 0), weights(4, 1), eps=0.0)
    out = bn(Tensor.of([[1, 3], [5, 7]]))
    assert out.output.nested() == [[1.0, 3.0], [5.0, 7.0]] and out.macs == 0
    assert (bn.params, bn.buffers) == (4, 4)


def test_merges_upsample_pad_and_shuffle():
    a, b = Tensor.of([[1, 2]]), Tensor.of([[10, 20]])
    assert ref.add_tensors(a, b).output.nested() == [[11, 22]]
    assert ref.concat_tensors(a, b, a).output.nested() == [[1, 2], [10, 20], [1, 2]]
    with pytest.raises(ValueError):
        ref.add_tensors(a, Tensor.of([[1, 2], [3, 4]]))
    with pytest.raises(ValueError):
        ref.concat_tensors(a, Tensor.of([[1, 2, 3]]))
    assert ref.Upsample(scale=2)(Tensor.of([[[1, 2], [3, 4]]])).output.nested() == [
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]
    assert ref.Upsample(size=5)(Tensor.of([[1, 2]])).output.nested() == [[1, 1, 1, 2, 2]]  # floor(o·2/5)
    assert ref.Pad([(1, 2)])(Tensor.of([[1, 2]])).output.nested() == [[0, 1, 2, 0, 0]]
    shuffled = ref.ChannelShuffle(2)(Tensor.of([[0], [1], [2], [3]])).output.nested()
    assert shuffled == [[0], [2], [1], [3]]


def test_activations_softmax_lrn_dropout():
    x = Tensor.of([[-1.0, 2.0], [0.5, -3.0]])
    assert ref.Activation("relu")(x).output.nested() == [[0.0, 2.0], [0.5, 0.0]]
    soft = ref.Softmax()(x).output.nested()
    assert math.isclose(soft[0][0] + soft[1][0], 1.0) and soft[1][0] > soft[0][0]
    assert ref.Dropout()(x).output == x
    for name, f in ref.ACTIVATIONS.items():
        assert math.isfinite(f(-2.0)) and math.isfinite(f(3.0)), name
    # PyTorch's window for size 2 is channels c − 1 and c: channel 0 sees itself, channel 1 both
    lrn = ref.LRN(size=2, alpha=1.0, beta=1.0, k=1.0)(x).output.nested()
    assert math.isclose(lrn[0][0], -1.0 / (1.0 + 1.0 / 2))
    assert math.isclose(lrn[1][0], 0.5 / (1.0 + (1.0 + 0.25) / 2))


def test_tensor_round_trips_and_refuses_wrong_sizes():
    nested = [[[1, 2, 3], [4, 5, 6]]]
    assert Tensor.of(nested).shape == (1, 2, 3) and Tensor.of(nested).nested() == nested
    with pytest.raises(ValueError):
        Tensor((2, 2), [1.0])
    with pytest.raises(ValueError, match="expects 2 channels"):
        ref.Conv(2, 1, (1,), weights(1, 1))(Tensor.of([[1, 2]]))


# --- against the naive oracles, with hypothesis -------------------------------------------------


@st.composite
def conv_cases(draw):
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)]
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank)]
    lowest = [max(1, d * (k - 1) + 1 - b - a) for k, d, (b, a) in zip(kernel, dilation, pads)]
    sizes = [draw(st.integers(lo, lo + (4 if rank < 3 else 2))) for lo in lowest]
    return dict(sizes=sizes, channels=groups * draw(st.integers(1, 2)), filters=groups * draw(st.integers(1, 2)),
                kernel=kernel, stride=[draw(st.integers(1, 3)) for _ in range(rank)], pads=pads,
                dilation=dilation, groups=groups, bias=draw(st.booleans()), seed=draw(st.integers(0, 99)))


@SETTINGS
@given(conv_cases())
@example(dict(sizes=[5, 5], channels=3, filters=2, kernel=[3, 3], stride=[2, 2], pads=[(1, 1), (1, 1)],
              dilation=[1, 1], groups=1, bias=True, seed=0))
def test_conv_agrees_with_the_direct_definition(c):
    rng = random.Random(c["seed"])
    rank = len(c["sizes"])
    conv = ref.Conv.random(rng, c["channels"], c["filters"], c["kernel"], rank, c["stride"], c["pads"],
                           c["dilation"], c["groups"], c["bias"])
    x = Tensor.random((c["channels"], *c["sizes"]), rng)
    result = conv(x)
    expected, multiplies, read = naive_conv(x, conv.weight, conv.bias, c["filters"], c["kernel"], c["stride"],
                                            c["pads"], c["dilation"], c["groups"])
    assert result.output.shape == expected.shape
    assert close(result.output.data, expected.data)
    assert result.macs == multiplies
    assert conv.params == read + (c["filters"] if c["bias"] else 0)  # every weight allocated is read


def stuffed(x: Tensor, stride: Sequence[int]) -> Tensor:
    """x with stride − 1 zeros between neighbours along each axis."""
    sizes = [(n - 1) * s + 1 for n, s in zip(x.spatial, stride)]
    data = []
    for c in range(x.channels):
        for idx in itertools.product(*(range(n) for n in sizes)):
            on = all(i % s == 0 for i, s in zip(idx, stride))
            data.append(value_at(x, c, [i // s for i, s in zip(idx, stride)]) if on else 0.0)
    return Tensor((x.channels, *sizes), data)


@SETTINGS
@given(st.data())
def test_transposed_conv_is_a_conv_over_the_zero_stuffed_input(data):
    """Dumoulin & Visin §4: a transposed conv is a stride-1 conv of the input with zeros inserted,
    padded by D·(F − 1) − P (plus output_padding after), with the kernel flipped."""
    draw = data.draw
    rank = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 2))
    channels, filters = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)]
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    pads = [draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation)]
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    sizes = [draw(st.integers(1, 4)) for _ in range(rank)]
    assume(all((n - 1) * s + d * (k - 1) + 1 + o > 2 * p
               for n, s, d, k, o, p in zip(sizes, stride, dilation, kernel, output_padding, pads)))
    rng = random.Random(draw(st.integers(0, 99)))
    x = Tensor.random((channels, *sizes), rng)
    t = ref.ConvTranspose.random(rng, channels, filters, kernel, rank, stride, pads, output_padding, dilation,
                                 groups, bias=False)
    result = t(x)
    # the equivalent conv's weight: in/out swapped within each group, taps reversed
    per_in, per_out = channels // groups, filters // groups
    taps = list(itertools.product(*(range(k) for k in kernel)))
    flipped = []
    for f in range(filters):
        g, local = divmod(f, per_out)
        for ci in range(per_in):
            c = g * per_in + ci
            for tap in taps:
                mirror = tuple(k - 1 - i for i, k in zip(tap, kernel))
                flipped.append(t.weight[(c * per_out + local) * len(taps) + taps.index(mirror)])
    conv_pads = [(d * (k - 1) - p, d * (k - 1) - p + o) for k, d, p, o in zip(kernel, dilation, pads, output_padding)]
    expected, _, _ = naive_conv(stuffed(x, stride), flipped, None, filters, kernel, [1] * rank, conv_pads,
                                dilation, groups)
    assert result.output.shape == expected.shape
    assert close(result.output.data, expected.data)
    # every input value met every weight of its group once
    assert result.macs == math.prod(sizes) * channels * per_out * math.prod(kernel)
    assert t.params == len(flipped)


@SETTINGS
@given(st.data())
def test_transposed_conv_is_the_adjoint_of_conv(data):
    """<conv(x), y> = <x, conv_transpose(y)> with the same weights: what "transposed" means."""
    draw = data.draw
    rank = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 2))
    channels, filters = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)]
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank)]
    sizes = [draw(st.integers(max(1, d * (k - 1) + 1 - b - a), 6)) for k, d, (b, a) in zip(kernel, dilation, pads)]
    rng = random.Random(draw(st.integers(0, 99)))
    conv = ref.Conv.random(rng, channels, filters, kernel, rank, stride, pads, dilation, groups, bias=False)
    x = Tensor.random((channels, *sizes), rng)
    y_shape = conv(x).output.shape
    y = Tensor.random(y_shape, rng)
    output_padding = [n - ((m - 1) * s - b - a + d * (k - 1) + 1)
                      for n, m, s, (b, a), d, k in zip(sizes, y_shape[1:], stride, pads, dilation, kernel)]
    t = ref.ConvTranspose(filters, channels, tuple(kernel), conv.weight, None, tuple(stride), pads,
                          tuple(output_padding), tuple(dilation), groups)
    back = t(y).output
    assert back.shape == x.shape
    lhs = math.fsum(map(float.__mul__, conv(x).output.data, y.data))
    rhs = math.fsum(map(float.__mul__, x.data, back.data))
    assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(st.data())
def test_pools_agree_with_pytorchs_definition(data):
    draw = data.draw
    rank = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    pad = [draw(st.integers(0, k // 2)) for k in kernel]  # PyTorch: padding at most half the window
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)]
    sizes = [draw(st.integers(1, 6 if rank < 3 else 4)) for _ in kernel]  # the window may not fit
    ceil_mode, include = draw(st.booleans()), draw(st.booleans())
    x = Tensor.random((draw(st.integers(1, 2)), *sizes), random.Random(draw(st.integers(0, 99))))
    padding = [(p, p) for p in pad]
    for mode, d in (("max", dilation), ("avg", [1] * rank)):
        try:
            want = naive_pool(x, kernel, stride, pad, ceil_mode, mode, include, d)
        except ValueError:  # PyTorch: "Output size is too small"; the reference refuses it too
            with pytest.raises(ValueError, match="does not fit"):
                (ref.MaxPool(tuple(kernel), tuple(stride), padding, ceil_mode, tuple(d)) if mode == "max"
                 else ref.AvgPool(tuple(kernel), tuple(stride), padding, ceil_mode, include))(x)
            continue
        if mode == "max":
            got = ref.MaxPool(tuple(kernel), tuple(stride), padding, ceil_mode, tuple(d))(x)
            assert got.output == want and got.macs == 0
        else:
            got_avg = ref.AvgPool(tuple(kernel), tuple(stride), padding, ceil_mode, include)(x).output
            assert got_avg.shape == want.shape and close(got_avg.data, want.data)


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3), st.integers(0, 3),
       st.integers(0, 3), st.booleans())
def test_slide_finds_every_window_start(size, kernel, stride, dilation, before, after, ceil_mode):
    taps = dilation * (kernel - 1) + 1
    padded = size + before + after
    # PyTorch's pooling_output_shape (aten/src/ATen/native/Pool.h), transcribed: the oracle's
    # sliding must agree with it, including a first window larger than the padded input. PyTorch
    # drops at most one window, which is enough only with padding at most half the kernel, as it wants.
    assume(not ceil_mode or max(before, after) <= kernel // 2)
    top = padded - taps + (stride - 1 if ceil_mode else 0)
    out = top // stride + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        out -= 1
    if out < 1:
        with pytest.raises(ValueError):
            ref.slide(size, kernel, stride, dilation, before, after, ceil_mode)
        return
    starts = ref.slide(size, kernel, stride, dilation, before, after, ceil_mode)
    assert starts == list(range(0, stride * out, stride))
    if not ceil_mode:  # every window inside, and no room for one more
        assert starts[-1] + taps <= padded < starts[-1] + stride + taps
    else:  # the windows cover the padded input, and the last starts inside the input or left padding
        assert starts[-1] + taps >= padded or starts[-1] + stride >= size + before
        assert starts[-1] < size + before


def test_ceil_mode_keeps_a_window_larger_than_the_input_as_pytorch():
    # measured with torch 2.13: MaxPool2d(3, 2, ceil_mode=True) on [[1, 2], [3, 4]] -> [[4]],
    # AvgPool2d(3, 2, ceil_mode=True) -> [[2.5]] (the divisor counts the 2x2 inside the padded input)
    x = Tensor.of([[[1, 2], [3, 4]]])
    assert ref.MaxPool(3, 2, ceil_mode=True)(x).output.nested() == [[[4]]]
    assert ref.AvgPool(3, 2, ceil_mode=True)(x).output.nested() == [[[2.5]]]
    # MaxPool1d(7, 6, ceil_mode=True) on 1..5 -> [5]; AvgPool1d -> [3.0]; a window 2 strides too big: none
    y = Tensor.of([[1, 2, 3, 4, 5]])
    assert ref.MaxPool(7, 6, ceil_mode=True)(y).output.nested() == [[5]]
    assert ref.AvgPool(7, 6, ceil_mode=True)(y).output.nested() == [[3.0]]
    with pytest.raises(ValueError, match="does not fit"):
        ref.MaxPool(7, 2, ceil_mode=True)(y)


def test_max_pool_dilation_as_pytorch():
    # nn.MaxPool2d(2, 1, dilation=2) on 8x8 gives 6x6 (torch 2.13); 1-D: max of x[i], x[i + 2]
    assert ref.MaxPool(2, 1, dilation=2)(Tensor.random((1, 8, 8), random.Random(0))).output.shape == (1, 6, 6)
    assert ref.MaxPool(2, 1, dilation=2)(Tensor.of([[5, 1, 2, 7, 3]])).output.nested() == [[5, 7, 3]]


def live(layer_factory, x: Tensor) -> None:
    """Nudging any one parameter changes the output: every allocated value is really used."""
    layer = layer_factory()
    base = layer(x).output.data
    names = ("weight", "bias", "gamma", "beta", "mean", "var", "in_weight", "out_weight", "in_bias", "out_bias",
             "values")
    arrays = [a for a in (getattr(layer, n, None) for n in names) if a is not None]
    assert sum(map(len, arrays)) == layer.params + layer.buffers
    for a in arrays:
        for i in range(len(a)):
            a[i] += 0.5
            assert not close(layer(x).output.data, base), (type(layer).__name__, i)
            a[i] -= 0.5


def test_every_parameter_is_live():
    rng = random.Random(1)
    x2 = Tensor.random((4, 5, 5), rng)
    live(lambda: ref.Conv.random(rng, 4, 4, 3, stride=2, padding=1, dilation=1, groups=2), x2)
    live(lambda: ref.ConvTranspose.random(rng, 4, 2, 2, stride=2, padding=1, groups=2), x2)
    live(lambda: ref.Linear.random(rng, 100, 3), x2)
    live(lambda: ref.BatchNorm.random(rng, 4), x2)


def test_upsample_size_is_pytorchs_float64_floor():
    # torch 2.13: nn.Upsample(scale_factor=0.29) on 100 gives 28, scale 2.3 on 50 gives 114
    assert ref.Upsample(scale=0.29)(Tensor.random((1, 100), random.Random(0))).output.shape == (1, 28)
    assert ref.Upsample(scale=2.3)(Tensor.random((1, 50), random.Random(0))).output.shape == (1, 114)


# --- tokens and attention (issue 12) ------------------------------------------------------------


def naive_attention(x: Tensor, heads: int, w_in: Sequence[float], b_in: Optional[Sequence[float]],
                    w_out: Sequence[float], b_out: Optional[Sequence[float]]) -> Tuple[List[List[float]], int]:
    """nn.MultiheadAttention's forward written out index by index, for tokens x[:, t]; returns
    each token's output vector and the multiplies whose products were summed."""
    c, n = x.channels, x.plane
    tokens = [[x.data[ch * n + t] for ch in range(c)] for t in range(n)]
    multiplies = 0

    def affine(w: Sequence[float], b: Optional[Sequence[float]], rows: int, v: List[float]) -> List[float]:
        nonlocal multiplies
        out = []
        for r in range(rows):
            acc = b[r] if b is not None else 0.0
            for i in range(c):
                acc += w[r * c + i] * v[i]
                multiplies += 1
            out.append(acc)
        return out

    qkv = [affine(w_in, b_in, 3 * c, tok) for tok in tokens]
    d = c // heads
    heads_out = [[0.0] * c for _ in tokens]
    for h in range(heads):
        for i in range(n):
            scores = []
            for j in range(n):
                acc = 0.0
                for e in range(d):
                    acc += qkv[i][h * d + e] * qkv[j][c + h * d + e]
                    multiplies += 1
                scores.append(acc / math.sqrt(d))
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            a = [v / sum(exps) for v in exps]
            for e in range(d):
                acc = 0.0
                for j in range(n):
                    acc += a[j] * qkv[j][2 * c + h * d + e]
                    multiplies += 1
                heads_out[i][h * d + e] = acc
    return [affine(w_out, b_out, c, v) for v in heads_out], multiplies


@SETTINGS
@given(st.integers(1, 6), st.sampled_from([(1, 1), (2, 1), (4, 2), (6, 3), (8, 4)]), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_attention_agrees_with_the_definition(tokens, channels_heads, bias, seed):
    channels, heads = channels_heads
    rng = random.Random(seed)
    layer = ref.MultiheadAttention.random(rng, channels, heads, bias)
    x = Tensor.random((channels, tokens), rng)
    result = layer(x)
    expected, multiplies = naive_attention(x, heads, layer.in_weight, layer.in_bias, layer.out_weight, layer.out_bias)
    assert result.output.shape == (channels, tokens)
    assert close(result.output.data, [expected[t][c] for c in range(channels) for t in range(tokens)])
    assert result.macs == multiplies
    assert layer.params == 4 * channels * channels + (4 * channels if bias else 0)


def test_one_token_attends_only_to_itself():
    """With one token the softmax is 1: the output is out_proj(v_proj(x)), whatever q and k are."""
    rng = random.Random(3)
    layer = ref.MultiheadAttention.random(rng, 2, 1)
    x = Tensor.of([[0.5], [-1.0]])
    w, b = layer.in_weight, layer.in_bias
    v = [w[8 + 2 * r] * 0.5 + w[8 + 2 * r + 1] * -1.0 + b[4 + r] for r in range(2)]
    out = [layer.out_weight[2 * r] * v[0] + layer.out_weight[2 * r + 1] * v[1] + layer.out_bias[r] for r in range(2)]
    assert close(layer(x).output.data, out)


def test_token_ops_move_values_as_pytorch():
    grid = Tensor.of([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])  # 2 channels of 2x2
    seq = ref.Tokens()(grid).output
    assert seq.nested() == [[1, 2, 3, 4], [5, 6, 7, 8]]  # x.flatten(2): row by row
    assert ref.ToGrid()(seq).output.nested() == grid.nested()
    assert ref.ToGrid((1, 4))(seq).output.shape == (2, 1, 4)
    with pytest.raises(ValueError):
        ref.ToGrid((3, 1))(seq)
    cls = ref.ClassToken(weights(10, 20))(seq)
    assert cls.output.nested() == [[10, 1, 2, 3, 4], [20, 5, 6, 7, 8]] and cls.macs == 0
    assert ref.SelectToken(0)(cls.output).output.nested() == [10, 20]
    assert ref.SelectToken(4)(cls.output).output.nested() == [4, 8]
    pos = ref.PositionEmbedding(weights(*range(10)))(cls.output)
    assert pos.output.nested() == [[10, 2, 4, 6, 8], [25, 11, 13, 15, 17]] and pos.macs == 0
    scaled = ref.LayerScale(weights(2, -1))(seq)
    assert scaled.output.nested() == [[2, 4, 6, 8], [-5, -6, -7, -8]] and scaled.macs == 0


def test_position_linear_is_nn_linear_at_each_position():
    seq = Tensor.of([[1, 2, 3], [4, 5, 6]])  # 3 tokens of 2 channels
    layer = ref.PositionLinear(2, 2, weights(1, 10, 100, 1000), weights(0.5, 0))
    result = layer(seq)
    # token t: (x0 + 10·x1 + 0.5, 100·x0 + 1000·x1)
    assert result.output.nested() == [[41.5, 52.5, 63.5], [4100, 5200, 6300]]
    assert result.macs == 3 * 2 * 2 and layer.params == 6


def test_every_token_parameter_is_live():
    rng = random.Random(2)
    seq = Tensor.random((4, 3), rng)
    live(lambda: ref.PositionLinear.random(rng, 4, 3), seq)
    live(lambda: ref.LayerScale.random(rng, 4), seq)
    live(lambda: ref.ClassToken.random(rng, 4), seq)
    live(lambda: ref.PositionEmbedding.random(rng, 12), seq)
    live(lambda: ref.MultiheadAttention.random(rng, 4, 2, bias=False), seq)


def test_attention_biases_are_live_except_the_keys():
    """The key bias adds ``q_i·b_k`` to every score of query i alike, and softmax ignores a shift:
    it never changes the output. PyTorch allocates it all the same (in_proj_bias is 3C), so it
    counts among the parameters; every other bias changes the output."""
    rng = random.Random(4)
    x = Tensor.random((4, 3), rng)
    layer = ref.MultiheadAttention.random(rng, 4, 2)
    base = layer(x).output.data
    assert layer.in_bias is not None and layer.out_bias is not None
    for array_, dead in ((layer.in_bias, range(4, 8)), (layer.out_bias, ())):
        for i in range(len(array_)):
            array_[i] += 0.5
            assert close(layer(x).output.data, base) == (i in dead), i
            array_[i] -= 0.5
    assert layer.params == 4 * 16 + 4 * 4


# --- the engine's rules against the reference, on random shapes ----------------------------------


def engine_and_reference(rule, shape, layer):
    """(output dims, params, MACs) from the engine's rule and from running ``layer`` on ``shape``
    (channels last for the engine, first for the reference)."""
    from convcalc.shape import Shape

    x = Shape(tuple(shape[:-1]), shape[-1])
    y = rule.out_shape(x)
    result = layer(Tensor.random((shape[-1], *shape[:-1]), random.Random(0)))
    measured = (result.output.shape[1:] + result.output.shape[:1], layer.params, result.macs)
    return (y.dims, rule.params(x), rule.macs(x)), measured


TOKEN_SHAPES = st.one_of(st.tuples(st.integers(1, 9), st.integers(1, 6)),
                         st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 6)))


@SETTINGS
@given(TOKEN_SHAPES, st.integers(1, 6), st.booleans())
def test_engine_position_linear_is_the_reference(shape, units, bias):
    from convcalc.layers import PositionLinear

    layer = ref.PositionLinear.random(random.Random(1), shape[-1], units, bias)
    engine, measured = engine_and_reference(PositionLinear(units, bias), shape, layer)
    assert engine == measured


@SETTINGS
@given(TOKEN_SHAPES, st.integers(1, 3), st.booleans())
def test_engine_attention_is_the_reference(shape, heads, bias):
    from convcalc.layers import Attention

    shape = (*shape[:-1], shape[-1] * heads)  # heads divide the channels
    layer = ref.MultiheadAttention.random(random.Random(1), shape[-1], heads, bias)
    engine, measured = engine_and_reference(Attention(heads, bias), shape, layer)
    assert engine == measured


@SETTINGS
@given(TOKEN_SHAPES, st.data())
def test_engine_token_ops_are_the_reference(shape, data):
    from convcalc.layers import (
        ClassToken,
        LayerScale,
        PositionEmbedding,
        SelectToken,
        ToGrid,
        Tokens,
    )

    rng = random.Random(1)
    channels, elements = shape[-1], math.prod(shape)
    cases = [(LayerScale(), ref.LayerScale.random(rng, channels)),
             (PositionEmbedding(), ref.PositionEmbedding.random(rng, elements)),
             (Tokens(), ref.Tokens())]
    if len(shape) == 2:
        index = data.draw(st.integers(0, shape[0] - 1))
        side = data.draw(st.integers(1, shape[0]))
        assume(shape[0] % side == 0)
        cases += [(ClassToken(), ref.ClassToken.random(rng, channels)),
                  (SelectToken(index), ref.SelectToken(index)),
                  (ToGrid((side, shape[0] // side)), ref.ToGrid((side, shape[0] // side)))]
    for rule, layer in cases:
        engine, measured = engine_and_reference(rule, shape, layer)
        assert engine == measured, type(rule).__name__


# --- channel split and the batchnorm variants -----------------------------------------------------


def naive_chunks(x: Tensor, chunks: int) -> List[Tensor]:
    """torch.chunk's definition, one channel at a time: parts of ⌈C/chunks⌉ channels, the last what is left."""
    width = -(-x.channels // chunks)
    parts: List[List[List[float]]] = []
    for c in range(x.channels):
        if c % width == 0:
            parts.append([])
        parts[-1].append(x.channel(c))
    return [Tensor((len(p), *x.spatial), [v for plane in p for v in plane]) for p in parts]


def test_chunk_and_split_take_channels_in_order():
    x = Tensor.of([[[1, 2]], [[3, 4]], [[5, 6]], [[7, 8]], [[9, 10]]])  # 5 channels of 1x2
    assert ref.Chunk(2, 1)(x).output.nested() == [[[7, 8]], [[9, 10]]]  # torch: widths 3 and 2
    assert ref.Chunk(5, 4)(x).output.nested() == [[[9, 10]]]
    assert ref.Split((1, 3, 1), 1)(x).output.nested() == [[[3, 4]], [[5, 6]], [[7, 8]]]
    assert all(ref.Chunk(2, i)(x).macs == 0 for i in (0, 1))
    with pytest.raises(ValueError):
        ref.Split((2, 2), 0)(x)  # 4 channels of 5: torch.split refuses too
    with pytest.raises(ValueError):
        ref.Chunk(3, 2)(Tensor.of([[1], [2], [3], [4]]))  # torch makes only 2 chunks of 4 channels


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.data())
def test_chunks_agree_with_torchs_definition_and_rebuild_the_input(channels, chunks, size, data):
    x = Tensor.random((channels, size), random.Random(channels * 10 + chunks))
    expected = naive_chunks(x, chunks)
    got = [ref.Chunk(chunks, i)(x).output for i in range(len(expected))]
    assert got == expected
    assert ref.concat_tensors(*got).output == x
    sizes = tuple(t.channels for t in expected)
    assert [ref.Split(sizes, i)(x).output for i in range(len(sizes))] == expected


def test_batchnorm_without_affine_and_frozen():
    x = Tensor.of([[1, 3], [5, 7]])
    plain = ref.BatchNorm(None, None, weights(1, 0), weights(4, 1), eps=0.0)  # affine=False: γ = 1, β = 0
    assert plain(x).output.nested() == [[0.0, 1.0], [5.0, 7.0]]
    assert (plain.params, plain.buffers) == (0, 4)
    frozen = ref.FrozenBatchNorm(weights(2, 1), weights(1, 0), weights(1, 0), weights(4, 1), eps=0.0)
    out = frozen(x)
    assert out.output.nested() == [[1.0, 3.0], [5.0, 7.0]] and out.macs == 0
    assert (frozen.params, frozen.buffers) == (0, 8)  # weight, bias, running mean and variance


def test_every_batchnorm_value_is_live():
    rng = random.Random(2)
    x = Tensor.random((3, 2, 2), rng)
    live(lambda: ref.BatchNorm.random(rng, 3, affine=False), x)
    live(lambda: ref.FrozenBatchNorm.random(rng, 3), x)


@st.composite
def splits_and_norms(draw) -> str:
    """A layer string: a chunk or split of random channels, or a batchnorm variant."""
    sizes = "x".join(str(draw(st.integers(1, 4))) for _ in range(draw(st.integers(1, 2))))
    kind = draw(st.sampled_from(["chunk", "split", "bn", "bnna", "frozenbn"]))
    if kind == "chunk":
        chunks = draw(st.integers(1, 4))
        channels = chunks * draw(st.integers(1, 5))
        return f"{sizes}x{channels} chunk{chunks}i{draw(st.integers(0, chunks - 1))}"
    if kind == "split":
        parts = [draw(st.integers(1, 6)) for _ in range(draw(st.integers(1, 4)))]
        return f"{sizes}x{sum(parts)} splitc{'x'.join(map(str, parts))}i{draw(st.integers(0, len(parts) - 1))}"
    return f"{sizes}x{draw(st.integers(1, 9))} {kind}"


@SETTINGS
@given(splits_and_norms(), st.integers(1, 3))
@example("2x2x116 chunk2i1", 4)  # ShuffleNetV2's second half
def test_engine_equals_reference_for_splits_and_batchnorms(text, most):
    """At true size and through verify's scaled runs (channels down to ``most``, parts kept)."""
    [r] = analyse(load(text)).layers
    for chosen in (Settings(full=True), Settings(budget=0, max_channels=most)):
        check = verify_layer(r, chosen)
        assert check.status == "verified", (text, check.reason, check.runs)
        assert check.measured == check.engine


WINDOWED = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3))


@SETTINGS
@given(WINDOWED, st.integers(1, 2), st.sampled_from(["block", "grid", "shifted"]), st.booleans())
def test_engine_windowed_attention_is_the_reference(sizes, heads, form, relative_bias):
    """Windows of a grid (Swin's blocks, shifted or not; MaxViT's blocks and grids), padded where
    a block window does not divide the grid, with and without the relative bias table: the
    reference runs every window and counts what it multiplies."""
    from convcalc.layers import Attention
    from convcalc.shape import Shape

    h, w, wh, ww = sizes
    if form == "grid":  # a grid partition needs sizes its window divides
        h, w = h * wh, w * ww
    c = 2 * heads
    rule = Attention(heads, True, (wh, ww), "grid" if form == "grid" else "block", form == "shifted", relative_bias)
    layer = ref.MultiheadAttention.random(random.Random(1), c, heads, True, (wh, ww), rule.partition,
                                          rule.shifted, relative_bias)
    engine, measured = engine_and_reference(rule, (h, w, c), layer)
    assert engine == measured
    assert rule.buffers(Shape((h, w), c)) == layer.buffers


@pytest.mark.parametrize("text", [
    "14x14x8 attention2w7shrb", "14x14x8 attention2w7gridrb", "10x10x8 attention2w4rb", "6x10x8 attention2",
    "20x8 attention2",
])
def test_verify_composes_windowed_attention_from_scaled_runs(text):
    """Over the budget, verify composes tokens and pairs measured at few channels with the work
    per token and per pair measured at the true channels, and the table on one window: the same
    figures as the run at true size."""
    [r] = analyse(load(text)).layers
    full = verify_layer(r, Settings(full=True))
    scaled = verify_layer(r, Settings(budget=0, max_channels=2))
    assert full.status == scaled.status == "verified", (full.reason, scaled.reason)
    assert scaled.measured == full.measured == scaled.engine
    assert len(scaled.runs) > 1


@SETTINGS
@given(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)), st.data())
def test_parameter_adds_what_it_holds(dims, data):
    """An added tensor broadcast from the last dim: the output minus the input is the tensor,
    repeated over the dims where it is 1."""
    from convcalc.layers import Parameter

    mine = tuple(data.draw(st.sampled_from([1, d])) for d in dims)[data.draw(st.integers(0, 2)):]
    layer = ref.Parameter.random(random.Random(1), mine, add=True)
    x = Tensor.random((dims[-1], *dims[:-1]), random.Random(0))
    y = layer(x).output
    _, xs = ref.base.channels_last(x)
    _, ys = ref.base.channels_last(y)
    full = (1,) * (3 - len(mine)) + mine
    for index, (a, b) in zip(itertools.product(*(range(d) for d in dims)), zip(xs, ys)):
        at = 0
        for i, n in zip(index, full):
            at = at * n + (i if n > 1 else 0)
        assert b - a == pytest.approx(layer.values[at])
    engine, measured = engine_and_reference(Parameter(mine, True), dims, layer)
    assert engine == measured


# Measured with CPU PyTorch 2.14 / torchvision 0.29 (a scratch venv, never a dependency): the
# reference's random weights (random.Random(1)) copied into torchvision's own modules, in float64,
# and run on the reference's random input (random.Random(0)); the outputs, channels first, to 12
# digits. SWIN_SHIFTED: torchvision.models.swin_transformer.ShiftedWindowAttention(4, [2, 2],
# [1, 1], 2) on a 3x5 grid (padded to 4x6, rolled, masked, with the relative bias table).
# MAXVIT_GRID: maxvit's RelativePositionalMultiHeadAttention(2, 2, 4) between WindowPartition(2),
# SwapAxes(-2, -3) and back, on 4x4 (one head: torchvision scales scores by C^-0.5, not by the
# head's d^-0.5, which is the same only then; the scale changes no count).
SWIN_SHIFTED = [
    -1.78501875806, -1.06119826235, -1.00270125951, -0.955079398121, -0.825398835454, -1.94818514416,
    -0.614482670866, -0.846568916378, -1.27136400161, -1.36552365324, -1.87370717191, -0.846080754691,
    -0.605259347618, -1.10925732233, -1.17332882768, -1.88396910775, -0.630349291306, -0.407700335204,
    -0.992611038523, -0.723802527949, -2.07114666791, -0.445378175302, -0.691144321381, -1.06039149558,
    -0.961661977694, -2.00153837388, -0.564035076085, -0.308807428799, -0.955266360067, -1.05950205061,
    2.26294441484, 1.32414334573, 1.20437711773, 1.12451376443, 0.935152218173, 2.43124122161,
    0.641602604662, 0.950017734596, 1.57877648817, 1.71188209576, 2.33262241149, 0.960569396124,
    0.61891970093, 1.3426919041, 1.43234148866, 2.75152355869, 2.69561846443, 2.68345674251,
    2.24021476099, 2.10698206679, 2.21251039457, 2.03561109412, 2.19453152694, 2.56790751515,
    2.60570903642, 2.09591372686, 2.22880875346, 1.97572173132, 2.45368564334, 2.49621067913,
]

MAXVIT_GRID = [
    -0.253048834937, -0.00479017447936, -0.299935116847, 0.0457543880884, 0.0841925058309, 0.111341597877,
    -0.0437290232221, 0.33763322696, -0.174821581409, 0.0103927397324, -0.228499334381, 0.107046959991,
    0.114865619493, 0.067026817963, 0.0780935261643, 0.131247930395, 0.0631705107996, -0.0254771084643,
    0.0780601920564, -0.051798506505, -0.0566707404229, -0.0864551365969, -0.00193584937403, -0.159782699494,
    0.0407562423272, -0.0364036146997, 0.0611094564933, -0.0554634371115, -0.0645899984928, -0.0732815688015,
    -0.0571763553189, -0.0957949707328,
]


@pytest.mark.parametrize("dims, heads, partition, shifted, measured", [
    ((4, 3, 5), 2, "block", True, SWIN_SHIFTED),
    ((2, 4, 4), 1, "grid", False, MAXVIT_GRID),
])
def test_windowed_attention_computes_what_torchvision_computes(dims, heads, partition, shifted, measured):
    """The reference's windows, roll, mask and relative bias are torchvision's, value for value:
    what it counts is the work of the right computation."""
    layer = ref.MultiheadAttention.random(random.Random(1), dims[0], heads, True, (2, 2), partition, shifted, True)
    out = layer(Tensor.random(dims, random.Random(0))).output
    assert out.shape == dims
    assert out.data == pytest.approx(measured, abs=1e-9)
