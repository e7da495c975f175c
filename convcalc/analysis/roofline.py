"""Roofline: a lower bound on the time of one training step on a device, never a prediction.

``roofline(report, training, device)`` takes each layer's forward and backward FLOPs (2 × the
MACs training.py counts, × batch) and the least bytes each pass must move through the device's
memory, and bounds its time by the larger of FLOPs / peak FLOP/s and bytes / bandwidth (the
roofline model: Williams, Waterman and Patterson, "Roofline", CACM 2009), with the device's
datasheet peaks (devices.py). Layers run one after another, as eager PyTorch runs them on one
CUDA stream, so the step takes no less than the sum of its passes' bounds, plus the optimizer
step's traffic. A compiler that fuses layers (torch.compile, TensorRT) moves fewer bytes than
"each layer reads its inputs and writes its output", and is not bounded by this.

The least bytes a pass moves, at the report's dtype and batch:

- forward: read each tensor it reads, its weights and buffers; write its output and the tensors
  of its own making it saves for backward (max-pool's int64 indices, dropout's mask,
  attention's Q, K, V and logsumexp, batchnorm's statistics). A view (flatten, a chunk, a
  permute, a reshape) moves nothing.
- backward, only where autograd runs the layer (it trains weights or reads a tensor that needs
  a gradient): read the gradient of its output, the tensors it saved (each its own size: a saved
  view reads only what it views; pooling's input is saved for its shape only and not read),
  and its weights when it computes a gradient for its input; write a gradient for each input
  that needs one and for its weights. Views, add, concat, the class token and the position
  embedding pass their gradient through or as views: nothing for their inputs (a trained
  token or embedding still reads its output's gradient and writes its own).
- Left out, each only lowering the bound: the summing of gradients where a tensor feeds
  several layers, the loss, reads a kernel repeats (batchnorm reads its input twice), caches.

Every figure is an exact integer and every time an exact ``Fraction``; rounding is the
renderers' (report/numbers.py).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Dict, List, Tuple

from ..layers import (
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    Add,
    AvgPool,
    ClassToken,
    Concat,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
    PositionEmbedding,
    Upsample,
)
from ..values import replace
from .devices import Device
from .plan_result import LayerRoofline, PassBound, Roofline, Training
from .precision import AMP_DTYPES
from .result import LayerReport, Report
from .training import Step, is_view, saved_tensors

# The peak that bounds the FLOPs at each dtype, the first the device has. float32 may run on
# TF32 tensor cores: PyTorch's torch.backends.cudnn.allow_tf32 is True by default, and a bound
# must hold for the fastest path the default can take.
PRECISIONS: Dict[str, Tuple[str, ...]] = {"float32": ("tf32", "fp32"), "float16": ("fp16",), "bfloat16": ("bf16",)}

# Tensors the size of the trained parameters the optimizer step reads or writes, at the least:
# SGD reads w and its gradient, writes w; momentum reads and writes its buffer too; Adam its two.
OPTIMIZER_TRAFFIC: Dict[str, int] = {"sgd": 3, "momentum": 5, "adam": 7, "adamw": 7}

# Their gradients pass through unchanged (add, the position embedding) or as views of the output's
# (concat, the class token's concatenation): nothing written for their inputs.
PASS_THROUGH = (Add, Concat, ClassToken, PositionEmbedding)
# Their backward needs only the input's shape: the saved input is never read (upsampling's 'area'
# mode is adaptive average pooling).
SHAPE_ONLY = (MaxPool, GlobalMaxPool, AdaptiveMaxPool, AvgPool, AdaptiveAvgPool, GlobalAvgPool, Upsample)


def roofline(report: Report, training: Training, device: Device, optimizer: str = "sgd") -> Roofline:
    """The lower bound on one training step's time of ``report``'s network on ``device``. Under
    autocast (``training.amp``) the heavy layers run on the half-precision tensor cores: the bound
    takes that peak and every tensor at 2 bytes (autocast keeps some in float32: moving fewer
    bytes than it does only lowers the bound)."""
    if training.amp:
        report = replace(report, dtype=AMP_DTYPES[training.amp])
    precision, peak = precision_for(device, report.dtype)
    if not peak or not device.bandwidth:
        why = (f"{device.name}: {device.compute_source}" if not device.bandwidth else
               f"{device.name} has no {' or '.join(PRECISIONS.get(report.dtype, ('FP64',))).upper()} peak "
               f"in its datasheet for --dtype {report.dtype}")
        return Roofline(device.name, precision, 0, 0, device.compute_source, report.batch, missing=why)
    bandwidth = device.bandwidth

    def bound(flops: int, moved: int) -> PassBound:
        compute, memory = Fraction(flops, peak), Fraction(moved, bandwidth)
        side = "" if not flops and not moved else "compute" if compute >= memory else "memory"
        return PassBound(flops, moved, max(compute, memory), side)

    needs_grad: Dict[int, bool] = {0: False}
    own: Dict[int, int] = {0: 0, **{r.index: r.index for r in report.layers}}  # each tensor its own storage
    # each tensor at the report's dtype: the bound's bytes are at --dtype (autocast's mix is not modelled here)
    sizes = dict.fromkeys(own, report.bytes_per_element)
    step = Step(training.backend, False, sizes, needs_grad, training.flash)
    rows: List[LayerRoofline] = []
    for r, t in zip(report.layers, training.layers):
        trains = r.params > 0
        grads = [needs_grad[s] for s in r.sources]
        needs_grad[r.index] = runs_backward = trains or any(grads)
        saved = (saved_tensors(r, report, own, step) or []) if runs_backward else []
        made = sum(size for _, tensor, size in saved if tensor[0] < 0)  # the layer's own tensors, not the graph's
        forward = bound(2 * t.forward_macs * report.batch, forward_bytes(r, report, made))
        backward = bound(2 * t.backward_macs * report.batch,
                         backward_bytes(r, report, saved, grads, trains) if runs_backward else 0)
        flops, moved = forward.flops + backward.flops, forward.bytes + backward.bytes
        side = "" if not flops and not moved else "compute" if flops * bandwidth >= moved * peak else "memory"
        rows.append(LayerRoofline(r.index, forward, backward, side))
    trained = sum(r.params for r in report.layers)
    return Roofline(device.name, precision, peak, bandwidth, device.compute_source, report.batch, tuple(rows),
                    optimizer, OPTIMIZER_TRAFFIC[optimizer] * report.param_bytes(trained))


def precision_for(device: Device, dtype: str) -> Tuple[str, int]:
    """The precision whose datasheet peak bounds the FLOPs at ``dtype``, and that peak (0: none)."""
    choices = PRECISIONS.get(dtype, ())
    for precision in choices:
        peak = device.peak_flops(precision)
        if peak:
            return precision, peak
    return (choices[-1] if choices else "fp64"), 0


def tensor_bytes(report: Report, tensor: int) -> int:
    return report.activation_bytes(report.shape_of(tensor).elements)


def forward_bytes(r: LayerReport, report: Report, made: int) -> int:
    """Read its inputs, weights and buffers; write its output and the tensors it makes to save."""
    if is_view(r):
        return 0
    reads = sum(tensor_bytes(report, s) for s in dict.fromkeys(r.sources))  # x·x reads x once
    return reads + report.param_bytes(r.params + r.buffers) + tensor_bytes(report, r.index) + made


def backward_bytes(r: LayerReport, report: Report, saved: List[Tuple[str, Tuple[int, ...], int]],
                   grads: List[bool], trains: bool) -> int:
    """Read the output's gradient, what it saved, its weights; write its inputs' and weights' gradients."""
    weight_grad = report.param_bytes(r.params) if trains else 0
    if is_view(r) or isinstance(r.layer, PASS_THROUGH):
        return (tensor_bytes(report, r.index) + weight_grad) if trains else 0
    read = {tensor: size for role, tensor, size in saved  # a tensor saved twice (x·x) is read once at the least
            if not (role == "inputs" and isinstance(r.layer, SHAPE_ONLY))}
    grad_in = sum(tensor_bytes(report, s) for s, g in dict(zip(r.sources, grads)).items() if g)
    weights = report.param_bytes(r.params) if grad_in else 0
    return tensor_bytes(report, r.index) + sum(read.values()) + weights + grad_in + weight_grad
