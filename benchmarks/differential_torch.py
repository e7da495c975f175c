"""convcalc's layer rules against real PyTorch: random layers, built in both, compared exactly.

    /work/torchvenv/bin/python benchmarks/differential_torch.py              # every family
    python benchmarks/differential_torch.py --cases 500 --seed 7 --family conv2d,maxpool2d -v

Needs a Python with ``torch`` and ``torchvision`` (and PyYAML, for the few layers written in
YAML); convcalc itself is imported from this checkout. torch is never a dependency of convcalc
or of its test suite: this script is the only place it is used.

Each family draws layer configurations from a seeded RNG (small sizes: inputs at most 64 per
axis, channels at most 32; some draws deliberately break a rule: a kernel larger than its
input, groups that do not divide the channels, a padding over half the window) and builds the
same layer twice: in convcalc, as a layer string (YAML for options a string cannot spell:
``size``, ``mode``, per-axis scales, ``after``), and in PyTorch, as the ``nn`` module (or the
tensor method, for views) run in ``eval()`` mode on a zero tensor of batch 1, NCHW (channels
last for the layers PyTorch itself applies to the last dim: ``nn.Linear`` per position,
``nn.LayerNorm``, attention, views). Compared, per case:

- **refusal**: PyTorch raising (at construction or in the forward pass) against convcalc
  raising a ShapeError, SpecError or LayerError. Either refusing alone is a disagreement; any
  other exception from convcalc is a crash, always a disagreement.
- **shape**: convcalc's dims (channels last, no batch) against PyTorch's output without its batch
  dim, the channels moved last for the NCHW families.
- **params**: the sum of ``numel`` of ``module.parameters()``.
- **buffers**: the sum of ``numel`` of ``module.named_buffers()``, less every
  ``num_batches_tracked`` (a counter, which convcalc does not count: README).
- **MACs**: ``torch.utils.flop_counter.FlopCounterMode``'s total over the forward pass, halved.
  FlopCounterMode counts only the ops of its registry: ``mm``, ``addmm``, ``bmm``, ``baddbmm``,
  ``convolution`` (its ``conv_flop_count`` counts a transposed conv over its *input*
  positions, as convcalc does), and the scaled-dot-product-attention kernels, each at 2 FLOPs
  per multiply-accumulate and with no bias additions, which is convcalc's MAC convention. So
  the comparison is made for *every* case: for the families convcalc counts (conv, linear,
  attention) it checks the figure, for the others that both say 0 (pools, norms, resizing and
  views run no counted op). Attention runs with autograd on, so ``nn.MultiheadAttention``
  takes its decomposed path (``F.linear`` and scaled dot product attention) that the counter
  sees, not the fused inference kernel it cannot.

Not compared: receptive fields (except where a crop starts), the merges other than matmul
(add, mul, concat), pixel shuffle (convcalc has no such kind), and convcalc's generic kinds
(``conv``, ``maxpool``, ``pad`` ...) on more than 3 spatial axes, which convcalc counts as ONNX's
N-D operators do and PyTorch has no module for.

A disagreement is either *explained* (``EXPLAINED`` below: a documented convention, with its
reason, matched by a predicate on the case and the outcome) or *unexplained*; the script prints
counts per family and every unexplained disagreement, and exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convcalc.analysis.engine import analyse  # noqa: E402
from convcalc.errors import ConvcalcError, LayerError  # noqa: E402
from convcalc.spec.layer_string import parse_string  # noqa: E402

Dims = Tuple[int, ...]


@dataclass
class Case:
    """One layer, as convcalc reads it (``spec``: a layer string, or a dict written as YAML) and as
    PyTorch builds it (``build``: the module, or a function of the input), on input ``x_shape``
    (PyTorch's, batch included); ``layout`` says how PyTorch's output maps to convcalc's dims."""

    family: str
    spec: Any
    build: Callable[[], Any]
    x_shape: Dims
    layout: str = "nchw"  # "nchw": channels moved last; "last": as it is, batch dropped; "all": batch kept
    info: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    refused: Optional[str] = None
    dims: Optional[Dims] = None
    params: int = 0
    buffers: int = 0
    macs: int = 0
    notes: Tuple[str, ...] = ()
    hint: str = ""
    offset: Optional[Tuple[Any, ...]] = None  # a crop's start per axis (``info["offset"]`` cases only)


# ---------------------------------------------------------------------------------------------
# the two sides


def run_convcalc(case: Case) -> Outcome:
    try:
        if isinstance(case.spec, str):
            spec = parse_string(case.spec)
        else:
            import yaml  # only the cases written in YAML need it

            from convcalc.spec.yaml_reader import parse_yaml
            spec = parse_yaml(yaml.safe_dump(case.spec, sort_keys=False))
        report = analyse(spec)
    except (ConvcalcError, LayerError) as e:
        return Outcome(refused=f"{type(e).__name__}: {e}", hint=getattr(e, "hint", ""))
    except Exception as e:  # a crash: reported as its own disagreement
        return Outcome(refused=f"CRASH {type(e).__name__}: {e}")
    layers = report.layers
    offset = None
    if case.info.get("offset"):  # where the kept window starts: the receptive-field step's shift
        steps = layers[-1].layer.receptive(layers[-1].input)
        offset = tuple(int(step.shift) for step in steps) if steps else None
    return Outcome(dims=tuple(layers[-1].output.dims), params=sum(x.params for x in layers),
                   buffers=sum(x.buffers for x in layers), macs=sum(x.macs for x in layers),
                   notes=tuple(n.text for x in layers for n in x.notes), offset=offset)


def run_torch(case: Case) -> Outcome:
    try:
        built = case.build()
        if isinstance(built, nn.Module):
            built.eval()
            params = sum(p.numel() for p in built.parameters())
            buffers = sum(b.numel() for name, b in built.named_buffers() if not name.endswith("num_batches_tracked"))
        else:
            params = buffers = 0
        x = torch.zeros(case.x_shape)
        counter = FlopCounterMode(display=False)
        grad = case.info.get("grad", False)
        with counter, torch.set_grad_enabled(grad):
            y = built(x)
        if isinstance(y, tuple):
            y = y[0]
        if y.numel() == 0:
            return Outcome(refused=f"empty output {tuple(y.shape)}", dims=tuple(y.shape))
        flops = counter.get_total_flops()
    except Exception as e:
        return Outcome(refused=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    shape = tuple(y.shape)
    if case.layout == "nchw":
        dims = shape[2:] + shape[1:2]
    elif case.layout == "last":
        dims = shape[1:]
    else:
        dims = shape
    assert flops % 2 == 0, (case.spec, flops)
    offset = None
    if case.info.get("offset"):  # run again on the positions themselves: the first kept one says where
        sp = case.x_shape[2:]
        first = int(built(torch.arange(math.prod(sp), dtype=torch.float64).reshape(1, 1, *sp)).flatten()[0])
        offset = (first // sp[1], first % sp[1])
    return Outcome(dims=dims, params=params, buffers=buffers, macs=flops // 2, offset=offset)


# ---------------------------------------------------------------------------------------------
# the families


def xs(values: Sequence[Any]) -> str:
    return "x".join(str(v) for v in values)


def axis_value(rng: random.Random, n: int, draw: Callable[[], int], same: float = 0.6) -> List[int]:
    """n values, all the same with probability ``same``."""
    if rng.random() < same:
        return [draw()] * n
    return [draw() for _ in range(n)]


def spatial(rng: random.Random, n: int) -> List[int]:
    top = {1: 64, 2: rng.choice([12, 24, 24, 64]), 3: rng.choice([6, 10, 12])}[n]
    return axis_value(rng, n, lambda: rng.randint(1, top), 0.5)


CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
CONV_KIND = {1: "conv1d", 2: "conv", 3: "conv3d"}


def gen_conv(rng: random.Random, n: int) -> Case:
    sp = spatial(rng, n)
    groups = rng.choice([1, 1, 1, 2, 3, 4])
    c_in = rng.randint(1, 8) * (groups if rng.random() < 0.9 else 1)
    k_out = rng.randint(1, 8) * (groups if rng.random() < 0.9 else 1)
    top = rng.choice([3, 5, 7])
    k = axis_value(rng, n, lambda: rng.randint(1, top))
    s = axis_value(rng, n, lambda: rng.choice([1, 1, 2, 3, 4, 5]), 0.8)
    d = axis_value(rng, n, lambda: rng.choice([1, 1, 1, 2, 3, 4]), 0.8)
    bias = rng.random() < 0.7
    mode = rng.choice(["num", "num", "num", "same", "valid"])
    if mode == "same" and rng.random() < 0.7:
        s = [1] * n
    p: Any = axis_value(rng, n, lambda: rng.randint(0, 3)) if mode == "num" else mode
    token = f"{CONV_KIND[n]}{k_out}k{xs(k)}s{xs(s)}" + (f"p{xs(p)}" if mode == "num" else f"p{mode}") \
        + f"d{xs(d)}g{groups}" + ("" if bias else "nb")

    def build() -> nn.Module:
        return CONV[n](c_in, k_out, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
    return Case(f"conv{n}d", f"{xs(sp + [c_in])} {token}", build, (1, c_in, *sp),
                info={"padding": p, "stride": s})


def gen_convtranspose(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])
    sp = spatial(rng, n)
    groups = rng.choice([1, 1, 2, 4])
    c_in = rng.randint(1, 6) * (groups if rng.random() < 0.9 else 1)
    k_out = rng.randint(1, 6) * (groups if rng.random() < 0.9 else 1)
    k = axis_value(rng, n, lambda: rng.randint(1, 5))
    s = axis_value(rng, n, lambda: rng.choice([1, 2, 3]), 0.8)
    d = axis_value(rng, n, lambda: rng.choice([1, 1, 2]), 0.8)
    p = axis_value(rng, n, lambda: rng.randint(0, 3))
    op = axis_value(rng, n, lambda: rng.randint(0, 2)) if rng.random() < 0.5 else [0] * n
    bias = rng.random() < 0.7
    token = f"convtranspose{k_out}k{xs(k)}s{xs(s)}p{xs(p)}op{xs(op)}d{xs(d)}g{groups}" + ("" if bias else "nb")

    def build() -> nn.Module:
        return CONVT[n](c_in, k_out, k, stride=s, padding=p, output_padding=op, groups=groups, bias=bias,
                        dilation=d)
    return Case(f"convtranspose{n}d", f"{xs(sp + [c_in])} {token}", build, (1, c_in, *sp))


def gen_dwconv(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])  # convcalc's dwconv and sepconv take any rank: Conv1d/2d/3d here
    sp = spatial(rng, n)
    c = rng.randint(1, 12)
    k, s, d, m = rng.randint(1, 5), rng.choice([1, 1, 2]), rng.choice([1, 1, 2]), rng.choice([1, 1, 2, 3])
    p = rng.choice([0, 1, 2, "same", "valid"])
    if p == "same" and rng.random() < 0.7:
        s = 1
    bias = rng.random() < 0.7
    token = f"dwconv{k}s{s}p{p}d{d}m{m}" + ("" if bias else "nb")

    def build() -> nn.Module:
        return CONV[n](c, c * m, k, stride=s, padding=p, dilation=d, groups=c, bias=bias)
    return Case("dwconv", f"{xs(sp + [c])} {token}", build, (1, c, *sp), info={"padding": p, "stride": [s]})


def gen_sepconv(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])
    sp = spatial(rng, n)
    c, k_out = rng.randint(1, 12), rng.randint(1, 16)
    k, s, d = rng.randint(1, 5), rng.choice([1, 1, 2]), rng.choice([1, 1, 2])
    p = rng.choice([0, 1, 2, "same", "valid"])
    if p == "same" and rng.random() < 0.7:
        s = 1
    bias = rng.random() < 0.7
    token = f"sepconv{k_out}k{k}s{s}p{p}d{d}" + ("" if bias else "nb")

    def build() -> nn.Module:  # Keras' SeparableConv2D: the depthwise conv has no bias, the pointwise one may
        return nn.Sequential(CONV[n](c, c, k, stride=s, padding=p, dilation=d, groups=c, bias=False),
                             CONV[n](c, k_out, 1, bias=bias))
    return Case("sepconv", f"{xs(sp + [c])} {token}", build, (1, c, *sp), info={"padding": p, "stride": [s]})


MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
POOL_SUFFIX = {1: "1d", 2: "", 3: "3d"}


def gen_pool(rng: random.Random, kind: str, n: int) -> Case:
    sp = spatial(rng, n)
    c = rng.randint(1, 8)
    k = axis_value(rng, n, lambda: rng.randint(1, 5))
    if rng.random() < 0.8:  # mostly windows that fit: a kernel no larger than its input, padding within half of it
        k = [min(f, w) for f, w in zip(k, sp)]
    s = axis_value(rng, n, lambda: rng.randint(1, 4), 0.7) if rng.random() < 0.7 else None
    p = [rng.randint(0, f // 2) if rng.random() < 0.85 else rng.randint(0, 3) for f in k] \
        if rng.random() < 0.6 else [0] * n
    d = axis_value(rng, n, lambda: rng.choice([1, 2, 3]), 0.7) if kind == "max" and rng.random() < 0.4 else [1] * n
    ceil = rng.random() < 0.4
    include_pad = rng.random() < 0.5
    suffix = POOL_SUFFIX[n] if rng.random() < 0.7 else ""  # the generic kind on any rank, as the rank-named one
    token = f"{kind}pool{suffix}{xs(k)}" + (f"s{xs(s)}" if s else "") + f"p{xs(p)}" \
        + (f"d{xs(d)}" if d != [1] * n else "") + ("ceil" if ceil else "")

    def build() -> nn.Module:
        if kind == "max":
            return MAXPOOL[n](k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        return AVGPOOL[n](k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=include_pad)
    return Case(f"{kind}pool{n}d", f"{xs(sp + [c])} {token}", build, (1, c, *sp), info={"dilation": d})


def gen_adaptive(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])
    kind = rng.choice(["avg", "max"])
    sp = spatial(rng, n)
    c = rng.randint(1, 8)
    out = axis_value(rng, n, lambda: rng.randint(1, 12))
    module = {("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 2): nn.AdaptiveAvgPool2d, ("avg", 3): nn.AdaptiveAvgPool3d,
              ("max", 1): nn.AdaptiveMaxPool1d, ("max", 2): nn.AdaptiveMaxPool2d, ("max", 3): nn.AdaptiveMaxPool3d}
    if n == 2 or rng.random() < 0.5:
        spec: Any = f"{xs(sp + [c])} adaptive{kind}pool{xs(out)}"
    else:  # the 2-D kinds on a 1-D or 3-D input, sized per axis in YAML
        spec = {"input": sp + [c], "layers": [{f"adaptive{kind}pool": {"output": out}}]}
    return Case(f"adaptive{kind}pool", spec, lambda: module[kind, n](out), (1, c, *sp))


def gen_global(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])
    kind = rng.choice(["gap", "gmp"])
    sp, c = spatial(rng, n), rng.randint(1, 16)
    module = {("gap", 1): nn.AdaptiveAvgPool1d, ("gap", 2): nn.AdaptiveAvgPool2d, ("gap", 3): nn.AdaptiveAvgPool3d,
              ("gmp", 1): nn.AdaptiveMaxPool1d, ("gmp", 2): nn.AdaptiveMaxPool2d, ("gmp", 3): nn.AdaptiveMaxPool3d}
    return Case("globalpool", f"{xs(sp + [c])} {kind}", lambda: module[kind, n](1), (1, c, *sp))


def gen_fc(rng: random.Random) -> Case:
    units, bias = rng.randint(1, 32), rng.random() < 0.7
    token = f"fc{units}" + ("" if bias else "nb")
    if rng.random() < 0.5:
        c = rng.randint(1, 64)
        return Case("fc", f"{c} {token}", lambda: nn.Linear(c, units, bias=bias), (1, c), layout="last")
    n = rng.choice([1, 2, 3])
    sp, c = [rng.randint(1, 6) for _ in range(n)], rng.randint(1, 8)
    numel = math.prod(sp) * c
    return Case("fc", f"{xs(sp + [c])} {token}", lambda: nn.Sequential(nn.Flatten(), nn.Linear(numel, units, bias=bias)),
                (1, c, *sp), layout="last")


def gen_pwlinear(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 1, 2])
    sp, c = [rng.randint(1, 16) for _ in range(n)], rng.randint(1, 32)
    units, bias = rng.randint(1, 32), rng.random() < 0.7
    return Case("pwlinear", f"{xs(sp + [c])} pwlinear{units}" + ("" if bias else "nb"),
                lambda: nn.Linear(c, units, bias=bias), (1, *sp, c), layout="last")


def gen_batchnorm(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2, 2, 3])
    sp, c = spatial(rng, n) if n else [], rng.randint(1, 32)
    affine = rng.random() < 0.6
    module = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[n]
    return Case("batchnorm", f"{xs(sp + [c])} {'bn' if affine else 'bnna'}", lambda: module(c, affine=affine),
                (1, c, *sp))


def gen_groupnorm(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2, 2, 3])
    sp = [rng.randint(1, 4) for _ in range(n)] if rng.random() < 0.3 or not n else spatial(rng, n)
    g = rng.choice([1, 2, 3, 4, 8, 16])
    c = g * rng.randint(1, 4) if rng.random() < 0.85 else rng.randint(1, 32)
    affine, bias = rng.random() < 0.8, rng.random() < 0.8
    spec = f"{xs(sp + [c])} groupnorm{g}" + ("" if affine else "na") + ("" if bias else "nb")
    return Case("groupnorm", spec, lambda: nn.GroupNorm(g, c, affine=affine, bias=bias), (1, c, *sp))


def gen_layernorm(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2])
    sp, c = [rng.randint(1, 16) for _ in range(n)], rng.randint(1, 32)
    affine, bias = rng.random() < 0.7, rng.random() < 0.7
    spec = f"{xs(sp + [c])} layernorm" + ("" if affine else "na") + ("" if bias else "nb")
    return Case("layernorm", spec, lambda: nn.LayerNorm(c, elementwise_affine=affine, bias=bias), (1, *sp, c),
                layout="last")


def gen_upsample(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 2, 3])
    sp, c = [rng.randint(1, 32 if n < 3 else 8) for _ in range(n)], rng.randint(1, 4)
    modes = {1: ["nearest", "linear", "area"], 2: ["nearest", "bilinear", "bicubic", "area"],
             3: ["nearest", "trilinear", "area"]}[n]
    # now and then a mode made for another rank (bilinear on a 1-D input): PyTorch refuses those
    mode = rng.choice(modes if rng.random() < 0.85 else ["linear", "bilinear", "bicubic", "trilinear"])
    how = rng.choice(["int", "frac", "frac", "axes", "size"])
    if how == "int":
        scale: Any = rng.randint(1, 4)
    elif how == "frac":
        scale = round(rng.uniform(0.1, 3.5), rng.choice([1, 2, 3]))
    elif how == "axes":
        scale = [round(rng.uniform(0.2, 3.0), rng.choice([0, 1, 2])) or 1.0 for _ in range(n)]
    else:
        scale = None
    size = [rng.randint(1, 40) for _ in range(n)] if how == "size" else None
    torch_scale = tuple(scale) if isinstance(scale, list) else scale  # nn.Upsample takes a tuple, not a list
    torch_size = tuple(size) if size else None
    if how in ("int", "frac") and mode == "nearest":
        spec: Any = f"{xs(sp + [c])} upsample{scale}"
    else:
        options = {"size": size} if size else {"scale": scale}
        spec = {"input": sp + [c], "layers": [{"upsample": {**options, "mode": mode}}]}
    corners = None if mode in ("nearest", "area") else False
    return Case("upsample", spec, lambda: nn.Upsample(size=torch_size, scale_factor=torch_scale, mode=mode, align_corners=corners),
                (1, c, *sp))


def gen_pad(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 2, 3])
    sp, c = spatial(rng, n), rng.randint(1, 8)
    before = axis_value(rng, n, lambda: rng.randint(0, 4))
    after = axis_value(rng, n, lambda: rng.randint(0, 4)) if rng.random() < 0.5 else before
    if after == before and rng.random() < 0.6:
        spec: Any = f"{xs(sp + [c])} pad{xs(before)}"
    else:
        spec = {"input": sp + [c], "layers": [{"pad": {"padding": before, "after": after}}]}
    flat: List[int] = []
    for b, a in zip(reversed(before), reversed(after)):  # F.pad: last dim first
        flat += [b, a]
    return Case("pad", spec, lambda: (lambda x: F.pad(x, flat)), (1, c, *sp))


def gen_crop(rng: random.Random) -> Case:
    from torchvision.transforms.functional import center_crop
    sp, c = spatial(rng, 2), rng.randint(1, 4)
    size = [rng.randint(1, w + (2 if rng.random() < 0.1 else 0)) for w in sp]
    return Case("crop", f"{xs(sp + [c])} crop{xs(size)}", lambda: (lambda x: center_crop(x, size)), (1, c, *sp),
                info={"offset": True})


def gen_shuffle(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2, 2, 3])
    sp = spatial(rng, n) if n else []
    g = rng.randint(1, 6)
    c = g * rng.randint(1, 5) if rng.random() < 0.85 else rng.randint(1, 24)
    return Case("shuffle", f"{xs(sp + [c])} shuffle{g}", lambda: nn.ChannelShuffle(g), (1, c, *sp))


def gen_chunk(rng: random.Random) -> Case:
    sp, c = spatial(rng, 2), rng.randint(1, 24)
    if rng.random() < 0.5:
        chunks = rng.randint(1, 6)
        i = rng.randint(0, chunks - 1)
        return Case("chunk", f"{xs(sp + [c])} chunk{chunks}i{i}", lambda: (lambda x: torch.chunk(x, chunks, dim=1)[i]),
                    (1, c, *sp), info={"chunks": chunks, "index": i, "channels": c})
    parts = [rng.randint(1, 8) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.8:
        c = sum(parts)
    i = rng.randint(0, len(parts) - 1)
    return Case("split", f"{xs(sp + [c])} splitc{xs(parts)}i{i}",
                lambda: (lambda x: torch.split(x, parts, dim=1)[i]), (1, c, *sp))


def gen_flatten(rng: random.Random) -> Case:
    n = rng.choice([1, 2, 3])
    sp, c = spatial(rng, n), rng.randint(1, 8)
    return Case("flatten", f"{xs(sp + [c])} flatten", lambda: nn.Flatten(), (1, c, *sp), layout="last")


def factor(rng: random.Random, total: int, parts: int) -> List[int]:
    dims = []
    for _ in range(parts - 1):
        divisors = [d for d in range(1, total + 1) if total % d == 0]
        d = rng.choice(divisors)
        dims.append(d)
        total //= d
    return dims + [total]


def gen_view(rng: random.Random) -> Case:
    n = rng.randint(1, 4)
    dims = [rng.randint(1, 8) for _ in range(n)]
    what = rng.choice(["reshape", "reshape", "permute", "take", "slice"])
    shape = (1, *dims)
    if what == "reshape":
        to = factor(rng, math.prod(dims), rng.randint(1, 4))
        if rng.random() < 0.4:
            to[rng.randrange(len(to))] = -1
        if rng.random() < 0.15:
            to[rng.randrange(len(to))] += 1
        spec: Any = f"{xs(dims)} reshape{xs(to)}"
        return Case("view", spec, lambda: (lambda x: x.reshape(1, *to)), shape, layout="last")
    if what == "permute":
        order = list(range(n))
        rng.shuffle(order)
        if rng.random() < 0.1:
            order[0] = order[-1]
        if n == 1:
            spec = {"input": dims, "layers": [{"permute": {"order": order}}]}
        else:
            spec = f"{xs(dims)} permute{xs(order)}"
        return Case("view", spec, lambda: (lambda x: x.permute(0, *[o + 1 for o in order])), shape, layout="last")
    axis = rng.randrange(n)
    if what == "take":
        i = rng.randint(0, dims[axis])
        return Case("view", f"{xs(dims)} take{i}a{axis}", lambda: (lambda x: x.select(axis + 1, i)), shape,
                    layout="last")
    start, step = rng.randint(0, dims[axis]), rng.randint(1, 3)
    stop = rng.choice([None, rng.randint(0, dims[axis] + 2)])
    options = {"axis": axis, "start": start, "step": step, **({"stop": stop} if stop is not None else {})}
    index = (slice(None),) * (axis + 1) + (slice(start, stop, step),)
    return Case("view", {"input": dims, "layers": [{"slice": options}]}, lambda: (lambda x: x[index]), shape,
                layout="last")


def gen_matmul(rng: random.Random) -> Case:
    """``x @ f(x)``, f a chain of views of the same input (take, permute, reshape), as attention
    written out in a model file multiplies q by kᵀ: broadcasting where f dropped leading dims."""
    n = rng.randint(2, 4)
    dims = [rng.randint(1, 6) for _ in range(n)]
    steps: List[str] = []
    ops: List[Callable[[torch.Tensor], torch.Tensor]] = []
    now = list(dims)
    for _ in range(rng.randint(0, min(2, n - 2))):
        if rng.random() < 0.5:
            steps.append("take0")
            ops.append(lambda t: t.select(1, 0))
            now = now[1:]
    choice = rng.random()
    if choice < 0.7:  # the transpose of the last two dims: x @ xᵀ
        order = list(range(len(now) - 2)) + [len(now) - 1, len(now) - 2]
        steps.append(f"permute{xs(order)}")
        ops.append(lambda t, order=order: t.permute(0, *[o + 1 for o in order]))
    elif choice < 0.85:  # another shape of the same elements
        to = factor(rng, math.prod(now), rng.randint(2, 3))
        steps.append(f"reshape{xs(to)}")
        ops.append(lambda t, to=to: t.reshape(1, *to))

    def build() -> Callable[[torch.Tensor], torch.Tensor]:
        def run(x: torch.Tensor) -> torch.Tensor:
            y = x
            for op in ops:
                y = op(y)
            return torch.matmul(x, y)
        return run
    return Case("matmul", f"{xs(dims)} matmul(|{' '.join(steps)})", build, (1, *dims), layout="last")


class Attention(nn.Module):
    """Self-attention as a transformer block calls it, ``attn(x, x, x)``, with the weights asked for:
    then ``F.multi_head_attention_forward`` computes ``Q·Kᵀ`` and ``A·V`` with ``baddbmm`` and ``bmm``,
    which FlopCounterMode counts. Without them it calls ``scaled_dot_product_attention``, which on
    the CPU dispatches to ``_scaled_dot_product_flash_attention_for_cpu``, missing from
    FlopCounterMode's registry in torch 2.14 (it counts 0 for it: measured), so the count would lose
    ``2·n²·C``. The weights change no shape and no count of convcalc's."""

    def __init__(self, dim: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x, need_weights=True)[0]


def gen_attention(rng: random.Random) -> Case:
    heads = rng.choice([1, 2, 3, 4])
    c = heads * rng.randint(1, 8) if rng.random() < 0.9 else rng.randint(1, 32)
    length, bias = rng.randint(1, 40), rng.random() < 0.7
    batch = [rng.randint(1, 4)] if rng.random() < 0.4 else []
    spec = f"{xs(batch + [length, c])} attention{heads}" + ("" if bias else "nb")
    return Case("attention", spec, lambda: Attention(c, heads, bias), (*(batch or [1]), length, c),
                layout="all" if batch else "last", info={"grad": True})


def gen_window_attention(rng: random.Random) -> Case:
    from torchvision.models.swin_transformer import ShiftedWindowAttention
    heads = rng.choice([1, 2, 3])
    c = heads * rng.randint(1, 6)
    w = axis_value(rng, 2, lambda: rng.randint(1, 7), 0.8)
    sp = [rng.randint(1, 24) for _ in range(2)]
    shifted, bias = rng.random() < 0.5, rng.random() < 0.8
    spec = f"{xs(sp + [c])} attention{heads}w{xs(w)}" + ("sh" if shifted else "") + "rb" + ("" if bias else "nb")
    shift = [x // 2 for x in w] if shifted else [0, 0]
    return Case("windowattention", spec,
                lambda: ShiftedWindowAttention(c, w, shift, heads, qkv_bias=bias, proj_bias=bias),
                (1, *sp, c), layout="last", info={"grad": True})


def gen_batchnorm_more(rng: random.Random) -> Case:
    """torchvision's FrozenBatchNorm2d (4·C buffers; on 2-D maps only: on other ranks its
    ``reshape(1, -1, 1, 1)`` broadcasts into a shape of its own, so it is not drawn there),
    nn.LocalResponseNorm and nn.PReLU."""
    from torchvision.ops import FrozenBatchNorm2d
    sp, c = spatial(rng, 2), rng.randint(1, 32)
    what = rng.choice(["frozenbn", "lrn", "prelu", "prelu"])
    if what == "frozenbn":
        return Case("frozenbn-lrn-prelu", f"{xs(sp + [c])} frozenbn", lambda: FrozenBatchNorm2d(c), (1, c, *sp))
    if what == "lrn":  # on a vector too, and 1-D and 3-D maps
        size, n = rng.randint(1, 7), rng.choice([0, 1, 2, 2, 3])
        sp = spatial(rng, n) if n else []
        return Case("frozenbn-lrn-prelu", f"{xs(sp + [c])} lrn{size}", lambda: nn.LocalResponseNorm(size),
                    (1, c, *sp))
    shared = rng.random() < 0.3
    n = rng.choice([0, 1, 2, 2, 3])
    sp = spatial(rng, n) if n else []
    spec: Any = {"input": sp + [c], "layers": [{"prelu": {"shared": True}}]} if shared else f"{xs(sp + [c])} prelu"
    return Case("frozenbn-lrn-prelu", spec, lambda: nn.PReLU(1 if shared else c), (1, c, *sp))


ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "selu": nn.SELU,
               "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "hardswish": nn.Hardswish,
               "hardsigmoid": nn.Hardsigmoid, "softplus": nn.Softplus, "mish": nn.Mish, "identity": nn.Identity,
               "dropout": nn.Dropout, "softmax": lambda: nn.Softmax(dim=1)}


def gen_activation(rng: random.Random) -> Case:
    n = rng.choice([0, 1, 2, 3])
    sp, c = spatial(rng, n) if n else [], rng.randint(1, 32)
    kind = rng.choice(sorted(ACTIVATIONS))
    return Case("activation", f"{xs(sp + [c])} {kind}", ACTIVATIONS[kind], (1, c, *sp))


class Learned(nn.Module):
    """A token layer written as ViT writes it: a learned tensor and what is done with it."""

    def __init__(self, what: str, shape: Sequence[int]) -> None:
        super().__init__()
        self.what = what
        self.p = nn.Parameter(torch.zeros(*shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.what == "clstoken":
            return torch.cat([self.p.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.p if self.what == "posembed" else x * self.p


def gen_tokens(rng: random.Random) -> Case:
    what = rng.choice(["tokens", "togrid", "clstoken", "posembed", "selecttoken", "layerscale"])
    c = rng.randint(1, 16)
    if what == "tokens":
        n = rng.choice([2, 2, 3])
        sp = spatial(rng, n)
        return Case("tokens", f"{xs(sp + [c])} tokens", lambda: (lambda x: x.flatten(2).transpose(1, 2)),
                    (1, c, *sp), layout="last")
    if what == "togrid":
        h, w = rng.randint(1, 12), rng.randint(1, 12)
        length = h * w if rng.random() < 0.85 else rng.randint(1, 144)
        if rng.random() < 0.5 and h == w:  # the default: a square, as a ViT head writes it, int(sqrt(L)) a side
            spec = f"{length}x{c} togrid"
            h = w = math.isqrt(length)
        else:
            spec = f"{length}x{c} togrid{h}x{w}"
        return Case("tokens", spec, lambda: (lambda x: x.transpose(1, 2).reshape(1, c, h, w)), (1, length, c))
    length = rng.randint(1, 50)
    if what == "selecttoken":
        i = rng.randint(0, length)
        return Case("tokens", f"{length}x{c} selecttoken{i}", lambda: (lambda x: x[:, i]), (1, length, c),
                    layout="last")
    shape = {"clstoken": (1, 1, c), "posembed": (1, length, c), "layerscale": (c,)}[what]
    return Case("tokens", f"{length}x{c} {what}", lambda: Learned(what, shape), (1, length, c), layout="last")


class MaxVitAttention(nn.Module):
    """torchvision MaxViT's attention alone, as its PartitionAttentionLayer cuts and joins the grid
    around it (no norm, no MLP): a channels-last grid in, the same out."""

    def __init__(self, dim: int, heads: int, window: int, partition: str, grid: int) -> None:
        from torchvision.models.maxvit import RelativePositionalMultiHeadAttention
        super().__init__()
        self.attn = RelativePositionalMultiHeadAttention(dim, dim // heads, window * window)
        self.window, self.partition, self.grid = window, partition, grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.models.maxvit import WindowDepartition, WindowPartition
        p = self.window if self.partition == "block" else self.grid // self.window
        g = self.grid // p
        y = WindowPartition()(x.permute(0, 3, 1, 2), p)
        if self.partition == "grid":
            y = y.transpose(-2, -3)
        y = self.attn(y)
        if self.partition == "grid":
            y = y.transpose(-2, -3)
        return WindowDepartition()(y, p, g, g).permute(0, 2, 3, 1)


def gen_maxvit_attention(rng: random.Random) -> Case:
    heads = rng.choice([1, 2, 4])
    c = heads * rng.randint(1, 6)
    w = rng.randint(1, 7)
    side = w * rng.randint(1, 4)  # torchvision's MaxViT takes grids its partition divides, square
    partition = rng.choice(["block", "grid"])
    spec = f"{side}x{side}x{c} attention{heads}w{w}" + ("grid" if partition == "grid" else "") + "rb"
    return Case("maxvitattention", spec, lambda: MaxVitAttention(c, heads, w, partition, side), (1, side, side, c),
                layout="last", info={"grad": True, "heads": heads, "window": w, "side": side, "channels": c})


FAMILIES: Dict[str, Tuple[Callable[[random.Random], Case], int]] = {
    # name: (generator, share of the cases, in parts)
    "conv1d": (lambda r: gen_conv(r, 1), 4),
    "conv2d": (lambda r: gen_conv(r, 2), 8),
    "conv3d": (lambda r: gen_conv(r, 3), 3),
    "convtranspose": (gen_convtranspose, 5),
    "dwconv": (gen_dwconv, 2),
    "sepconv": (gen_sepconv, 2),
    "maxpool1d": (lambda r: gen_pool(r, "max", 1), 2),
    "maxpool2d": (lambda r: gen_pool(r, "max", 2), 4),
    "maxpool3d": (lambda r: gen_pool(r, "max", 3), 2),
    "avgpool1d": (lambda r: gen_pool(r, "avg", 1), 2),
    "avgpool2d": (lambda r: gen_pool(r, "avg", 2), 4),
    "avgpool3d": (lambda r: gen_pool(r, "avg", 3), 2),
    "adaptivepool": (gen_adaptive, 3),
    "globalpool": (gen_global, 1),
    "fc": (gen_fc, 2),
    "pwlinear": (gen_pwlinear, 2),
    "batchnorm": (gen_batchnorm, 2),
    "groupnorm": (gen_groupnorm, 2),
    "layernorm": (gen_layernorm, 1),
    "frozenbn-lrn-prelu": (gen_batchnorm_more, 2),
    "activation": (gen_activation, 1),
    "tokens": (gen_tokens, 3),
    "upsample": (gen_upsample, 4),
    "pad": (gen_pad, 2),
    "crop": (gen_crop, 2),
    "shuffle": (gen_shuffle, 1),
    "chunk": (gen_chunk, 2),
    "flatten": (gen_flatten, 1),
    "view": (gen_view, 4),
    "matmul": (gen_matmul, 2),
    "attention": (gen_attention, 3),
    "windowattention": (gen_window_attention, 3),
    "maxvitattention": (gen_maxvit_attention, 2),
}


# ---------------------------------------------------------------------------------------------
# what is explained, and why

def _same_strided(case: Case, cc: Outcome, pt: Outcome) -> bool:
    return case.info.get("padding") == "same" and any(s > 1 for s in case.info.get("stride", [1])) \
        and cc.refused is None and pt.refused is not None and any("PyTorch would refuse" in n for n in cc.notes)


def _uneven_chunk(case: Case, cc: Outcome, pt: Outcome) -> bool:
    """convcalc refuses chunks that do not divide the channels, by design (README: "equal parts,
    which must divide the channels"), and its hint names the sizes PyTorch gives: checked here."""
    if case.family != "chunk" or cc.refused is None or pt.dims is None or "do not divide" not in cc.refused:
        return False
    found = re.search(r"would give ([0-9 +]+)", cc.hint)
    sizes = [int(v) for v in found.group(1).split("+")] if found else []
    index = case.info["index"]
    return index < len(sizes) and sizes[index] == pt.dims[-1]


def _take_from_vector(case: Case, cc: Outcome, pt: Outcome) -> bool:
    return case.family == "view" and isinstance(case.spec, str) and " take" in case.spec and cc.refused is not None \
        and "needs at least two dims" in cc.refused and pt.dims == ()


def _crop_larger(case: Case, cc: Outcome, pt: Outcome) -> bool:
    return case.family == "crop" and cc.refused is not None and "a crop only makes a map smaller" in cc.refused \
        and pt.refused is None


def _einsum_of_one(case: Case, cc: Outcome, pt: Outcome) -> bool:
    """MaxViT's attention computes ``Q·Kᵀ`` and ``A·V`` with ``torch.einsum``; where a contraction
    runs over one element (a head of one channel for ``Q·Kᵀ``, a window of one token for ``A·V``)
    einsum multiplies element-wise instead of calling ``bmm``, and FlopCounterMode counts no
    ``mul``: the products are made all the same (convcalc's ``n²·C`` each). Checked: PyTorch's
    count is short by exactly ``S·n²·C`` per such contraction, and nothing else differs."""
    if case.family != "maxvitattention" or cc.refused or pt.refused or (cc.dims, cc.params, cc.buffers) != \
            (pt.dims, pt.params, pt.buffers):
        return False
    i = case.info
    n, per = i["window"] ** 2, i["side"] ** 2 // i["window"] ** 2
    ones = (i["channels"] // i["heads"] == 1) + (n == 1)
    return ones > 0 and cc.macs - pt.macs == ones * per * n * n * i["channels"]


EXPLAINED: List[Tuple[str, Callable[[Case, Outcome, Outcome], bool]]] = [
    ("'same' padding at a stride over 1 follows TensorFlow's rule (output ceil(W/S), the odd pixel after), "
     "as the README documents; PyTorch refuses it, and convcalc's note on the layer says so", _same_strided),
    ("chunks that do not divide the channels are refused by design (README: 'equal parts, which must divide "
     "the channels'; a ShuffleNet whose halves differ is a mistake in the spec); the refusal's hint gives "
     "PyTorch's uneven sizes and 'split' to count them, and those sizes were checked against torch.chunk",
     _uneven_chunk),
    ("take on a vector leaves one number per sample, a 0-dim tensor PyTorch returns; convcalc's shapes have "
     "at least one dim (a vector), so it refuses, saying why", _take_from_vector),
    ("MaxViT's attention: torch.einsum turns a contraction over one element (a head of one channel, a window of "
     "one token) into an element-wise mul, which FlopCounterMode does not count; the products are made all the "
     "same, and the shortfall is exactly S·n²·C per such contraction", _einsum_of_one),
    ("a crop larger than its input is refused by design ('a crop only makes a map smaller', with the hint to "
     "pad instead); torchvision's center_crop zero-pads the input up to the size first", _crop_larger),
]


# ---------------------------------------------------------------------------------------------


def compare(case: Case) -> Tuple[str, Optional[str], Outcome, Outcome]:
    """('agree' | 'explained' | 'disagree', what differs, convcalc, torch)."""
    cc, pt = run_convcalc(case), run_torch(case)
    if cc.refused and cc.refused.startswith("CRASH"):
        what: Optional[str] = "convcalc crashed"
    elif cc.refused and pt.refused:
        what = None
    elif cc.refused:
        what = "convcalc refuses, PyTorch accepts"
    elif pt.refused:
        what = "PyTorch refuses, convcalc accepts"
    else:
        diffs = [name for name in ("dims", "params", "buffers", "macs", "offset") if getattr(cc, name) != getattr(pt, name)]
        what = ", ".join(diffs) if diffs else None
    if what is None:
        return "agree", None, cc, pt
    for reason, matches in EXPLAINED:
        if matches(case, cc, pt):
            return "explained", reason, cc, pt
    return "disagree", what, cc, pt


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=20000, help="cases in all, shared among the families")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--family", default="", help="comma-separated families (default all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every unexplained disagreement")
    parser.add_argument("--json", help="write the counts and disagreements here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = [f for f in args.family.split(",") if f] or list(FAMILIES)
    shares = sum(FAMILIES[f][1] for f in names)
    counts: Dict[str, Dict[str, int]] = {}
    found: List[Dict[str, Any]] = []
    start = time.perf_counter()
    for name in names:
        generate, share = FAMILIES[name]
        rng = random.Random(f"{args.seed}/{name}")
        tally = counts.setdefault(name, {"cases": 0, "agree": 0, "refused by both": 0, "explained": 0, "disagree": 0})
        for _ in range(max(1, args.cases * share // shares)):
            case = generate(rng)
            verdict, what, cc, pt = compare(case)
            tally["cases"] += 1
            tally[verdict] += 1
            if verdict == "agree" and cc.refused:
                tally["refused by both"] += 1
            if verdict != "agree":
                found.append({"family": case.family, "verdict": verdict, "what": what, "spec": case.spec,
                              "torch input": case.x_shape, "convcalc": vars(cc), "torch": vars(pt)})
                if verdict == "disagree" and args.verbose:
                    print(f"[{case.family}] {what}: {case.spec!r} (torch input {case.x_shape})\n"
                          f"    convcalc: {cc.refused or (cc.dims, cc.params, cc.buffers, cc.macs, cc.offset)}\n"
                          f"    torch:    {pt.refused or (pt.dims, pt.params, pt.buffers, pt.macs, pt.offset)}")
    elapsed = time.perf_counter() - start
    print(f"{'family':<16}{'cases':>7}{'agree':>7}{'(both refuse)':>15}{'explained':>11}{'disagree':>10}")
    for name, t in counts.items():
        print(f"{name:<16}{t['cases']:>7}{t['agree']:>7}{t['refused by both']:>15}{t['explained']:>11}{t['disagree']:>10}")
    total = {k: sum(t[k] for t in counts.values()) for k in ("cases", "agree", "refused by both", "explained", "disagree")}
    print(f"{'total':<16}{total['cases']:>7}{total['agree']:>7}{total['refused by both']:>15}"
          f"{total['explained']:>11}{total['disagree']:>10}   ({elapsed:.0f} s, torch {torch.__version__})")
    reasons: Dict[str, int] = {}
    for f in found:
        if f["verdict"] == "explained":
            reasons[f["what"]] = reasons.get(f["what"], 0) + 1
    for reason, n in reasons.items():
        print(f"explained ({n}): {reason}")
    if args.json:
        Path(args.json).write_text(json.dumps({"counts": counts, "found": found}, indent=1, default=str))
    return 1 if total["disagree"] else 0


if __name__ == "__main__":
    sys.exit(main())
