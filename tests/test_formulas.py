"""The engine's formulas against independent oracles (STYLE.md rule 5), with hypothesis.

The oracles do not use the formulas: they slide a window along a padded input and count where
it lands, and run a small pure-Python convolution that counts its own multiplies and the
distinct weights it reads.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from convcalc.analysis.engine import analyse
from convcalc.errors import ShapeError
from convcalc.shape import Shape, Window, same_padding
from convcalc.spec.layer_string import parse_string
from convcalc.spec.yaml_reader import parse_yaml

SETTINGS = settings(max_examples=200, deadline=None)


# --- oracles ------------------------------------------------------------------------------------


def window_starts(size: int, kernel: int, stride: int, dilation: int = 1, before: int = 0, after: int = 0,
                  ceil_mode: bool = False) -> List[int]:
    """Where a window starts along one padded axis, found by sliding it (0 is the padded start).

    Floor mode: every start s = 0, S, 2S, ... whose window lies inside the padded input.
    Ceil mode (PyTorch's pooling_output_shape): keep a start while the window one stride before
    it stopped short of the padded end, but only starts inside the input or its left padding
    (s < W + P_before). The first window too: one larger than the padded input counts when it
    overhangs by less than a stride.
    """
    taps = dilation * (kernel - 1) + 1
    padded = before + size + after
    starts: List[int] = []
    s = 0
    while (s - stride + taps < padded and s < size + before) if ceil_mode else s + taps <= padded:
        starts.append(s)
        s += stride
    return starts


def reference_conv(
    hw: Tuple[int, int], channels: int, filters: int, kernel: Tuple[int, int], stride: Tuple[int, int],
    pad: Tuple[int, int], dilation: Tuple[int, int], groups: int,
) -> Tuple[Tuple[int, int], int, int]:
    """Convolve a zero-padded input, counting multiplies and the distinct weights read.

    Returns the output spatial size, the multiplies and the number of weights (biases apart).
    """
    h, w = hw
    padded = [[[((c + 1) * (y + 1) + x) if (pad[0] <= y < pad[0] + h and pad[1] <= x < pad[1] + w) else 0
                for x in range(w + 2 * pad[1])] for y in range(h + 2 * pad[0])] for c in range(channels)]
    ys = window_starts(h, kernel[0], stride[0], dilation[0], pad[0], pad[0])
    xs = window_starts(w, kernel[1], stride[1], dilation[1], pad[1], pad[1])
    per_group_in, per_group_out = channels // groups, filters // groups
    multiplies = 0
    weights: Dict[Tuple[int, int, int, int], int] = {}
    for k in range(filters):
        first = (k // per_group_out) * per_group_in  # the input channels filter k sees
        for y0 in ys:
            for x0 in xs:
                acc = 0
                for c in range(per_group_in):
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            weight = weights.setdefault((k, c, i, j), len(weights) % 7 - 3)
                            acc += weight * padded[first + c][y0 + i * dilation[0]][x0 + j * dilation[1]]
                            multiplies += 1
    return (len(ys), len(xs)), multiplies, len(weights)


# --- (a) Window.out_size is the number of window starts ------------------------------------------


@st.composite
def windows(draw, ceil_mode=None):
    kernel = draw(st.integers(1, 7))
    ceil = draw(st.booleans()) if ceil_mode is None else ceil_mode
    # PyTorch (and convcalc's pool rule) allows ceil mode only with padding at most half the kernel
    most = kernel // 2 if ceil else 5
    return Window(
        size=draw(st.integers(1, 30)),
        kernel=kernel,
        stride=draw(st.integers(1, 6)),
        dilation=draw(st.integers(1, 3)),
        pad_before=draw(st.integers(0, most)),
        pad_after=draw(st.integers(0, most)),
        ceil_mode=ceil,
    )


@SETTINGS
@given(windows())
@example(Window(7, 3, 1))  # the notes: 7x7 input, 3x3 filter -> 5
@example(Window(7, 3, 2))  # stride 2 -> 3
@example(Window(7, 3, 3))  # stride 3 -> 2 (2.33, floored)
@example(Window(7, 3, 1, 1, 1, 1))  # pad 1 -> 7
@example(Window(55, 3, 2, ceil_mode=True))
@example(Window(6, 3, 2, ceil_mode=True))  # the ceil-mode window that runs past the end
@example(Window(5, 2, 2, 1, 1, 1, ceil_mode=True))  # the one PyTorch drops: it would start in the padding
@example(Window(2, 3, 2, ceil_mode=True))  # larger than the input, but overhangs by less than a stride: 1
@example(Window(2, 4, 2, ceil_mode=True))  # overhangs by a whole stride: none
def test_out_size_counts_window_starts(w):
    starts = window_starts(w.size, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_after, w.ceil_mode)
    assert max(w.out_size, 0) == len(starts)


@SETTINGS
@given(windows(ceil_mode=False))
def test_out_size_is_the_notes_formula_when_the_stride_fits(w):
    # (W - F + 2P)/S + 1, exact when it is a whole number
    assume(w.span >= 0 and w.fits)
    assert w.out_size == Fraction(w.padded - w.effective_kernel, w.stride) + 1


@st.composite
def pools(draw):
    """A pool PyTorch accepts: padding at most half the window, the window inside the padded input."""
    kernel = draw(st.integers(1, 7))
    pad = draw(st.integers(0, kernel // 2))
    size = draw(st.integers(max(1, kernel - 2 * pad), 30))
    return Window(size, kernel, draw(st.integers(1, 6)), 1, pad, pad, draw(st.booleans()))


@st.composite
def any_pools(draw):
    """A max pool with padding at most half the window, any dilation; the window may not fit."""
    kernel = draw(st.integers(1, 7))
    pad = draw(st.integers(0, kernel // 2))
    return Window(draw(st.integers(1, 30)), kernel, draw(st.integers(1, 6)), draw(st.integers(1, 3)), pad, pad,
                  draw(st.booleans()))


@SETTINGS
@given(any_pools(), st.integers(1, 64), st.booleans())
@example(Window(55, 3, 2), 96, False)  # AlexNet's POOL1: 27
@example(Window(112, 3, 2, 1, 1, 1, ceil_mode=True), 64, True)
@example(Window(2, 3, 2, ceil_mode=True), 1, False)  # PyTorch: 1x1 (the 2x2x1 maxpool3s2ceil)
@example(Window(8, 2, 1, 2), 1, True)  # nn.MaxPool2d(2, 1, dilation=2) on 8x8: 6x6
def test_pool_output_through_the_api(w, channels, yaml):
    """The pool rule, through parse -> analyse, lands its windows where the oracle does."""
    ceil = "ceil" if w.ceil_mode else ""
    if yaml:
        spec = parse_yaml(f"input: [{w.size}, {w.size}, {channels}]\nlayers:\n"
                          f"  - maxpool: {{kernel: {w.kernel}, stride: {w.stride}, padding: {w.pad_before}, "
                          f"dilation: {w.dilation}, ceil_mode: {str(w.ceil_mode).lower()}}}\n")
    else:
        spec = parse_string(f"{w.size}x{w.size}x{channels} "
                            f"maxpool{w.kernel}s{w.stride}p{w.pad_before}d{w.dilation}{ceil}")
    n = len(window_starts(w.size, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_before, w.ceil_mode))
    if n == 0:  # PyTorch: "Output size is too small"
        with pytest.raises(ShapeError, match="≤ 0"):
            analyse(spec)
        return
    [layer] = analyse(spec).layers
    assert layer.output == Shape((n, n), channels)
    assert (layer.params, layer.macs) == (0, 0)


# --- (b) conv parameters and MACs, counted ----------------------------------------------------------


@st.composite
def convs(draw):
    groups = draw(st.integers(1, 3))
    return dict(
        hw=(draw(st.integers(1, 8)), draw(st.integers(1, 8))),
        channels=groups * draw(st.integers(1, 2)),
        filters=groups * draw(st.integers(1, 2)),
        kernel=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        pad=(draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        groups=groups,
        bias=draw(st.booleans()),
    )


def axes(pair: Tuple[int, int]) -> str:
    """A per-axis option as the layer string writes it: 3 when both axes agree, else 3x5."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def conv_string(c) -> str:
    h, w = c["hw"]
    return (f"{h}x{w}x{c['channels']} conv{c['filters']}k{axes(c['kernel'])}s{axes(c['stride'])}"
            f"p{axes(c['pad'])}d{axes(c['dilation'])}g{c['groups']}{'' if c['bias'] else 'nb'}")


@SETTINGS
@given(convs())
@example(dict(hw=(32, 32), channels=3, filters=10, kernel=(5, 5), stride=(1, 1), pad=(2, 2), dilation=(1, 1),
              groups=1, bias=True))  # the notes' 760-parameter layer
@example(dict(hw=(6, 6), channels=4, filters=4, kernel=(3, 3), stride=(1, 1), pad=(1, 1), dilation=(1, 1),
              groups=4, bias=False))  # depthwise
def test_conv_params_and_macs_are_counted(c):
    spec = parse_string(conv_string(c))
    taps = [d * (k - 1) + 1 for k, d in zip(c["kernel"], c["dilation"])]
    if any(t > size + 2 * p for t, size, p in zip(taps, c["hw"], c["pad"])):
        with pytest.raises(ShapeError):  # (e): a window larger than its padded input
            analyse(spec)
        return
    [layer] = analyse(spec).layers
    out, multiplies, weights = reference_conv(c["hw"], c["channels"], c["filters"], c["kernel"], c["stride"],
                                              c["pad"], c["dilation"], c["groups"])
    assert layer.output == Shape(out, c["filters"])
    assert layer.macs == multiplies
    assert layer.params == weights + (c["filters"] if c["bias"] else 0)
    # and the formulas of the notes, with groups: F_h*F_w*(C_in/g)*K + K, H2*W2*F_h*F_w*(C_in/g)*K
    fh, fw = c["kernel"]
    per_group_in = c["channels"] // c["groups"]
    assert layer.params == fh * fw * per_group_in * c["filters"] + c["filters"] * c["bias"]
    assert layer.macs == out[0] * out[1] * fh * fw * per_group_in * c["filters"]


@SETTINGS
@given(st.lists(st.integers(1, 6), min_size=0, max_size=3), st.integers(1, 5), st.integers(1, 50),
       st.booleans())
def test_fc_params_and_macs_are_counted(spatial, channels, units, bias):
    """Every unit sees every input element once: in*units multiplies, in*units (+units) params."""
    dims = "x".join(map(str, [*spatial, channels]))
    [layer] = analyse(parse_string(f"{dims} fc{units}{'' if bias else 'nb'}")).layers
    inputs = [(*p, c) for p in _positions(spatial) for c in range(channels)]
    multiplies = sum(1 for _ in range(units) for _ in inputs)
    assert layer.output == Shape((), units)
    assert layer.macs == multiplies
    assert layer.params == multiplies + (units if bias else 0)


def _positions(spatial: List[int]) -> List[Tuple[int, ...]]:
    positions: List[Tuple[int, ...]] = [()]
    for n in spatial:
        positions = [(*p, i) for p in positions for i in range(n)]
    return positions


@SETTINGS
@given(st.lists(st.integers(1, 9), min_size=1, max_size=3), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_conv_of_any_rank(spatial, channels, filters, kernel, stride, pad):
    """1-D signals and 3-D volumes: one window per axis, the kernel repeated on every axis."""
    assume(all(kernel <= n + 2 * pad for n in spatial))
    dims = "x".join(map(str, [*spatial, channels]))
    [layer] = analyse(parse_string(f"{dims} conv{filters}k{kernel}s{stride}p{pad}")).layers
    out = tuple(len(window_starts(n, kernel, stride, 1, pad, pad)) for n in spatial)
    assert layer.output == Shape(out, filters)
    assert layer.params == kernel ** len(spatial) * channels * filters + filters
    assert layer.macs == math.prod(out) * kernel ** len(spatial) * channels * filters


# --- (c) the stride-does-not-fit note ------------------------------------------------------------

_PAD_FITS = re.compile(r"Padding (\d+) would fit \(output (\d+)\)\.")
_NO_PAD = re.compile(r"No (?:symmetric padding|padding the pool accepts \(at most \d+\)) fits; "
                     r"input (\d+)(?: or (\d+))? would\.")


def fitting_pads(size: int, taps: int, stride: int) -> List[int]:
    """Every symmetric padding (up to well past one period) whose span the stride divides."""
    return [q for q in range(0, taps + 2 * stride + 2)
            if size + 2 * q >= taps and (size + 2 * q - taps) % stride == 0]


def check_suggestion(text: str, size: int, kernel: int, stride: int, dilation: int, pad: int,
                     most: Optional[int] = None) -> None:
    """The suggested padding fits, is the nearest that does, and (a pool's) is at most ``most``."""
    taps = dilation * (kernel - 1) + 1
    fits = [q for q in fitting_pads(size, taps, stride) if most is None or q <= most]
    m = _PAD_FITS.search(text)
    if m:
        q, out = int(m.group(1)), int(m.group(2))
        assert q in fits
        assert q == min(fits, key=lambda p: (abs(p - pad), p)), "the nearest fitting padding"
        assert out == len(window_starts(size, kernel, stride, dilation, q, q))
        return
    m = _NO_PAD.search(text)
    assert m, text
    assert fits == []
    sizes = [int(s) for s in m.groups() if s]

    def good(s: int) -> bool:
        return s >= 1 and s + 2 * pad >= taps and (s + 2 * pad - taps) % stride == 0

    below = [s for s in range(size, 0, -1) if good(s)]
    above = next(s for s in range(size, size + stride + 1) if good(s))
    assert sizes == ([below[0], above] if below else [above])


@SETTINGS
@given(
    st.integers(1, 30), st.integers(1, 30), st.integers(1, 7), st.integers(1, 7), st.integers(1, 6),
    st.integers(1, 6), st.integers(0, 4), st.integers(1, 3),
)
@example(7, 7, 3, 3, 3, 3, 0, 1)  # the notes' 2.33
@example(32, 32, 5, 5, 2, 2, 0, 1)  # "F = 5, S = 2, P = ? (whatever fits)": nothing does on 32
@example(1, 1, 2, 2, 2, 2, 1, 1)  # no padding fits, and no smaller input either
@example(41, 40, 1, 1, 2, 2, 0, 1)  # a strided 1x1 conv skips by design on odd and even sizes alike
def test_conv_warns_exactly_when_the_stride_does_not_fit(h, w, kh, kw, sh, sw, pad, dilation):
    assume(dilation * (max(kh, kw) - 1) + 1 <= min(h, w) + 2 * pad)
    text = f"{h}x{w}x1 conv1k{kh}x{kw}s{sh}x{sw}p{pad}d{dilation}"
    [layer] = analyse(parse_string(text)).layers
    # Every misfit axis is flagged; it is a warning when input is never seen, an info note when
    # what is left over is only the padding after the input, or when the window is smaller than
    # the stride (a strided 1x1 conv skips pixels by design).
    warnings = [n for n in layer.notes if n.code in MISFIT_CODES]
    axes_ = [(h, kh, sh), (w, kw, sw)]
    misfits = {a for a in axes_ if (a[0] - (dilation * (a[1] - 1) + 1) + 2 * pad) % a[2] != 0}
    # a window smaller than the stride skips input by design, whether or not the stride fits
    skipping = {a for a in axes_ if dilation * (a[1] - 1) + 1 < a[2] and a[0] + 2 * pad > dilation * (a[1] - 1) + 1}
    assert len(warnings) == len(misfits | skipping)  # one note per distinct such axis, none otherwise
    for size, kernel, stride in skipping - misfits:
        taps = dilation * (kernel - 1) + 1
        out = (size - taps + 2 * pad) // stride + 1
        formula = f"({size} − {taps}{f' + {2 * pad}' if pad else ''})/{stride} + 1 = {out}"
        [note] = [n for n in warnings if n.text.startswith(formula)]
        assert note.code == "stride-skips-by-design" and note.level == "info"
        assert f"skips {stride - taps} of every {stride}" in note.text
    for note in warnings:
        assert (note.level == "warning") == (note.code == "stride-does-not-fit")
    for size, kernel, stride in misfits:
        taps = dilation * (kernel - 1) + 1
        value = Fraction(size - taps + 2 * pad, stride) + 1
        formula = f"({size} − {taps}{f' + {2 * pad}' if pad else ''})/{stride} + 1 = "
        [note] = [n for n in warnings if n.text.startswith(formula)]
        left_over = (size - taps + 2 * pad) % stride
        assert note.code == ("stride-skips-by-design" if taps < stride else
                             "stride-skips-padding" if left_over <= pad else "stride-does-not-fit")
        assert f"= {float(value):.2f}" in note.text
        assert f"floored to {math.floor(value)}" in note.text
        if note.level == "warning":
            assert f"ceil would give {math.ceil(value)}" in note.text
        actual = layer.output.spatial[0 if (size, kernel, stride) == axes_[0] else 1]
        assert actual == math.floor(value) == len(window_starts(size, kernel, stride, dilation, pad, pad))
        if note.code != "stride-skips-by-design":
            check_suggestion(note.text, size, kernel, stride, dilation, pad)


MISFIT_CODES = ("stride-does-not-fit", "stride-skips-padding", "stride-skips-by-design")


@SETTINGS
@given(pools())
@example(Window(7, 3, 3))
@example(Window(7, 3, 3, ceil_mode=True))
@example(Window(8, 3, 3))  # padding 2 would fit, but a pool takes at most 1: suggest only what is accepted
def test_pool_warns_exactly_when_the_stride_does_not_fit_and_never_in_ceil_mode(w):
    ceil = "ceil" if w.ceil_mode else ""
    [layer] = analyse(parse_string(f"{w.size}x{w.size}x8 maxpool{w.kernel}s{w.stride}p{w.pad_before}{ceil}")).layers
    warnings = [n for n in layer.notes if n.code in MISFIT_CODES]
    misfit = (w.size - w.kernel + 2 * w.pad_before) % w.stride != 0
    skips = w.kernel < w.stride and w.span > 0  # input between windows never read, by design
    assert len(warnings) == (1 if (misfit or skips) and not w.ceil_mode else 0)
    if warnings and warnings[0].code != "stride-skips-by-design":
        check_suggestion(warnings[0].text, w.size, w.kernel, w.stride, 1, w.pad_before, w.kernel // 2)


# --- (d) 'same' padding --------------------------------------------------------------------------


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 7), st.integers(1, 5), st.integers(1, 3),
       st.sampled_from(["conv4", "maxpool", "avgpool"]))
def test_same_padding_gives_ceil_w_over_s(h, w, kernel, stride, dilation, kind):
    if kind != "conv4":
        dilation = 1  # pools have no dilation
    text = f"{h}x{w}x2 {kind}k{kernel}s{stride}{f'd{dilation}' if dilation > 1 else ''}psame"
    [layer] = analyse(parse_string(text)).layers
    assert layer.output.spatial == (math.ceil(h / stride), math.ceil(w / stride))
    taps = dilation * (kernel - 1) + 1
    for size in (h, w):
        before, after = same_padding(size, taps, stride)
        assert 0 <= after - before <= 1  # the odd pixel goes after, as TensorFlow does
        assert len(window_starts(size, kernel, stride, dilation, before, after)) == math.ceil(size / stride)


def test_same_padding_with_stride_1_keeps_the_size():
    for kernel in (1, 2, 3, 4, 5, 7):
        [layer] = analyse(parse_string(f"13x13x3 conv8k{kernel}psame")).layers
        assert layer.output.spatial == (13, 13)


# --- (e) a kernel larger than its padded input ----------------------------------------------------


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 15), st.integers(0, 3), st.integers(1, 3), st.integers(1, 3),
       st.booleans())
def test_kernel_larger_than_padded_input_is_a_located_shape_error(size, kernel, pad, dilation, stride, yaml):
    taps = dilation * (kernel - 1) + 1
    assume(taps > size + 2 * pad)
    layer = f"conv4k{kernel}s{stride}p{pad}d{dilation}"
    if yaml:
        text = (f"input: [{size + 2}, {size + 2}, 3]\nlayers:\n  - conv: {{filters: 3, kernel: 3}}\n"
                f"  - relu\n  - {layer}\n")
        spec = parse_yaml(text, "net.yaml")
        expected = ("net.yaml", 5, 5)
    else:
        spec = parse_string(f"{size + 2}x{size + 2}x3 conv3k3 relu {layer}")
        expected = ("<string>", 1, len(f"{size + 2}x{size + 2}x3 conv3k3 relu ") + 1)
    with pytest.raises(ShapeError) as info:
        analyse(spec)
    e = info.value
    assert (e.loc.file, e.loc.line, e.loc.column) == expected
    dilated = f" (dilated {taps})" if dilation > 1 else ""
    assert "layer 3 'conv2'" in e.message
    assert f"on input {size}x{size}x3" in e.message
    assert f"kernel {kernel}{dilated} exceeds padded input {size + 2 * pad}" in e.message
    assert e.hint == f"use a kernel of at most {size + 2 * pad} or pad the input"
    assert e.exit_code == 2


def test_a_pool_window_larger_than_its_input_is_a_shape_error():
    with pytest.raises(ShapeError) as info:
        analyse(parse_string("8x8x3 conv4k3 maxpool7s2"))  # 6x6 after the conv
    assert (info.value.loc.line, info.value.loc.column) == (1, 15)
    assert "kernel 7 exceeds padded input 6" in info.value.message


# --- PyTorch's pooling: ceil mode past the input, dilation, refusals that show their working ----


@pytest.mark.parametrize("text, out", [
    ("2x2x1 maxpool3s2ceil", "1x1x1"),  # torch 2.13: MaxPool2d(3, 2, ceil_mode=True) on 2x2 -> 1x1
    ("2x2x1 avgpool3s2ceil", "1x1x1"),
    ("2x1 maxpool1d3s2ceil", "1x1"),
    ("2x2x2x1 maxpool3d3s2ceil", "1x1x1x1"),  # (avg_pool3d refuses it: below)
    ("3x3x3x1 avgpool3d3s2ceil", "1x1x1x1"),
    ("5x1 maxpool1d7s6ceil", "1x1"),  # MaxPool1d(7, 6, ceil_mode=True) on 5 -> 1
    ("8x8x1 maxpool2s1d2", "6x6x1"),  # MaxPool2d(2, 1, dilation=2) on 8x8 -> 6x6
    ("8x8x1 maxpool2s2p1d2", "4x4x1"),  # MaxPool2d(2, padding=1, dilation=2) on 8x8 -> 4x4
])
def test_pools_give_pytorchs_sizes(text, out):
    assert str(analyse(parse_string(text)).output) == out


@pytest.mark.parametrize("text, working", [
    ("8x8x4 conv4k9s2", "⌊(8 + 0 − 9)/2⌋ + 1 = ⌊−1/2⌋ + 1 = 0 ≤ 0"),
    ("2x2x1 maxpool3s2", "⌊(2 + 0 − 3)/2⌋ + 1 = ⌊−1/2⌋ + 1 = 0 ≤ 0"),
    ("2x2x1 maxpool5s2ceil", "⌈(2 + 0 − 5)/2⌉ + 1 = ⌈−3/2⌉ + 1 = 0 ≤ 0"),
])
def test_a_refusal_shows_correct_working(text, working):
    with pytest.raises(ShapeError) as e:
        analyse(parse_string(text))
    assert working in e.value.message


@pytest.mark.parametrize("text, refused", [
    # aten's avg_pool3d: pool3d_shape_check(..., check_input_size=true) wants T >= kT, H >= kH,
    # W >= kW on the unpadded input: "input image (T: 2 H: 4 W: 4) smaller than kernel size"
    ("2x4x4x1 avgpool3d3s1p1", True),  # issue 19: was answered 2x4x4x1
    ("2x4x4x1 avgpool3s1p1", True),  # a plain avgpool on a 3-D input runs as avg_pool3d
    ("2x2x2x1 avgpool3d3s2ceil", True),
    ("4x4x2x1 avgpool3d3s1p1", True),
    ("3x4x4x1 avgpool3d3s1p1", False),  # equal to the kernel is enough
    ("2x4x4x1 maxpool3d3s1p1", False),  # max_pool3d asks nothing of the kind
    ("4x4x1 avgpool5s1p2", False),  # nor avg_pool2d
    ("2x4x4x1 avgpool3d3s1psame", False),  # TensorFlow's 'same' (noted as not PyTorch's)
])
def test_avg_pool3d_refuses_an_input_smaller_than_its_kernel_as_pytorch(text, refused):
    if not refused:
        analyse(parse_string(text))
        return
    with pytest.raises(ShapeError) as e:
        analyse(parse_string(text))
    assert "smaller than the kernel" in e.value.message and "avg_pool3d" in e.value.message
    assert "padding does not count" in e.value.hint


@pytest.mark.parametrize("text, refused, hint", [
    # F.group_norm: _verify_batch_size([N·C // G, G, *spatial]) refuses a product of 1,
    # "Expected more than 1 value per channel when training" (in eval mode as well)
    ("1x1x12 groupnorm12", True, "groupnorm6 puts 2 channels in each"),  # issue 19: was answered
    ("12 groupnorm12", True, "groupnorm6"),
    ("1x1x7 groupnorm7", True, "groupnorm1 puts 7 channels in each"),
    ("1x1x1 groupnorm1", True, "normalise where the tensor holds more than one value"),
    ("2x1x12 groupnorm12", False, ""),  # two positions per group
    ("1x1x12 groupnorm6", False, ""),  # two channels per group
])
def test_group_norm_refuses_one_value_per_group_as_pytorch(text, refused, hint):
    if not refused:
        analyse(parse_string(text))
        return
    with pytest.raises(ShapeError) as e:
        analyse(parse_string(text))
    assert "holds one value" in e.value.message and hint in e.value.hint


def test_avg_pool_refuses_dilation_as_pytorch():
    with pytest.raises(ShapeError, match="no dilation"):
        analyse(parse_string("8x8x1 avgpool2s1d2"))


@pytest.mark.parametrize("text, noted", [
    ("32x32x3 conv8k3s2psame", True),  # PyTorch: "padding='same' is not supported for strided convolutions"
    ("32x32x3 conv8k3s1psame", False),
    ("32x32x3 dwconvk3s2psame", True),
    ("32x32x3 maxpool3s2psame", True),  # PyTorch's pools take no 'same'
    ("32x32x3 conv8k3s2p1", False),
])
def test_same_padding_pytorch_refuses_is_said(text, noted):
    [layer] = analyse(parse_string(text)).layers
    assert any(n.code == "same-not-pytorch" for n in layer.notes) == noted


@pytest.mark.parametrize("size, scale, out", [
    (100, "0.29", 28),  # torch 2.13, nn.Upsample(scale_factor=0.29) on 100: 28 (100·0.29 = 28.999999999999996)
    (50, "2.3", 114),  # 114.99999999999999
    (90, "1.4", 125),
    (10, "1.5", 15),
    (7, "0.7", 4),
    (3, "1.1", 3),
])
def test_upsample_floors_the_float64_product_as_pytorch(size, scale, out):
    assert analyse(parse_string(f"{size}x{size}x3 upsample{scale}")).output == Shape((out, out), 3)
    spec = parse_yaml(f"input: [{size}, 3]\nlayers:\n  - upsample: {{scale: {scale}}}\n")
    assert analyse(spec).output == Shape((out,), 3)


@pytest.mark.parametrize("text, label", [
    ("32x32 conv10k5", "CONV1D 10 5 s1 p0"),  # a 2-part shape is a 1-D signal with 32 channels
    ("8x8x8x3 conv4k3", "CONV3D 4 3x3x3 s1 p0"),
    ("32x32x3 conv10k5", "CONV 10 5x5 s1 p0"),
    ("32x32 dwconvk5", "DWCONV 5 s1 p0"),
    ("32x32 convt4k2s2", "CONVT 4 2 s2 p0"),
    ("32x32 maxpool2", "MAX POOL 2 s2"),
])
def test_the_label_shows_the_rank_that_runs(text, label):
    [layer] = analyse(parse_string(text)).layers
    assert layer.layer.describe() == label


# --- closed forms against the loops they replace (no work per output unit) --------------------


def transposed_spans(f: int, st: int, p: int, d: int):
    """The loop the closed form replaced: for each output of one period, the inputs it reads."""
    spans = []
    for o in range(st):
        reads = [(o + p - k * d) // st for k in range(f) if (o + p - k * d) % st == 0]
        spans.append((min(reads), max(reads)) if reads else None)
    widths = {hi - lo for lo, hi in filter(None, spans)}
    first = spans[0]
    return (max(widths, default=0), Fraction(first[0] + first[1], 2) if first else 0,
            len(widths) == 1 and None not in spans)


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 6), st.integers(1, 4))
def test_transposed_conv_field_in_closed_form(f, stride, p, d):
    [step] = parse_string(f"5x2 convt2k{f}s{stride}p{p}d{d}").layers[0].layer.receptive(Shape((5,), 2))
    widest, shift, exact = transposed_spans(f, stride, p, d)
    assert (step.grow, step.shift, step.exact) == (widest, shift, exact)


@SETTINGS
@given(st.integers(1, 60), st.integers(1, 60))
def test_adaptive_pool_work_and_field_in_closed_form(w, n):
    windows = [((i * w) // n, -(-((i + 1) * w) // n)) for i in range(n)]
    layer = parse_string(f"{w}x3 adaptiveavgpool{n}").layers[0].layer
    assert layer.ops(Shape((w,), 3)) == 3 * sum(b - a for a, b in windows)
    steps = layer.receptive(Shape((w,), 3))
    if n > 1:
        assert steps[0].grow == max(b - a for a, b in windows) - 1


@pytest.mark.parametrize("text", [
    "8x8x3 convtranspose1k1s10000000",  # took 13.5 s: one step per output of a stride period
    "8x8x3 convtranspose1k10000000",  # 780 MB
    "8x8x3 adaptiveavgpool10000000",  # 19 s
    "8x8x3 adaptivemaxpool999999999",  # > 30 s
])
def test_huge_outputs_cost_nothing_per_output_unit(text):
    import time
    start = time.perf_counter()
    report = analyse(parse_string(text))
    report.fields
    assert time.perf_counter() - start < 5  # a generous bound against a hang: it takes milliseconds


@pytest.mark.parametrize("text, column", [
    ("8x8x3 (upsample1000000000)x480", 8),  # was an internal error
    ("8x8x3 upsample100000 upsample100000", 22),
    ("100000x100000x1000 flatten", 20),  # 10^13 elements in one vector
])
def test_computed_sizes_have_the_ceiling_read_sizes_have(text, column):
    with pytest.raises(ShapeError, match="exceeds the largest size") as e:
        analyse(parse_string(text))
    assert e.value.loc is not None and e.value.loc.column == column


def test_the_layer_limit_is_what_a_table_builds_quickly():
    # 8x8x4 (conv4k3p1)x1000000 (27 bytes) took 89 s and 2.9 GB under the former limit; now refused at once
    from convcalc.errors import SpecError
    from convcalc.limits import MAX_LAYERS
    with pytest.raises(SpecError, match=f"more than {MAX_LAYERS:,} layers"):
        parse_string("8x8x4 (conv4k3p1)x1000000")
    assert MAX_LAYERS <= 20_000


def test_asymmetric_zero_padding():
    """Keras' ZeroPadding2D(((0, 1), (0, 1))) before MobileNet's strided 3x3 convs: nothing
    before, one after: 224 → 225, and the conv's field does not move (start 0 + (3 − 1)/2 = 1)."""

    spec = parse_yaml("input: [224, 224, 3]\nlayers:\n  - pad: {padding: 0, after: 1}\n"
                      "  - conv: {filters: 8, kernel: 3, stride: 2}\n", "pad.yaml")
    report = analyse(spec)
    assert [str(r.output) for r in report.layers] == ["225x225x3", "112x112x8"]
    assert report.layers[0].layer.describe() == "ZEROPAD 0 after 1"
    assert report.fields[1].axes[0].start == 1
    spec = parse_yaml("input: [10, 10, 1]\nlayers:\n  - pad: {padding: [1, 2], after: [3, 0]}\n", "pad.yaml")
    assert str(analyse(spec).output) == "14x12x1"
