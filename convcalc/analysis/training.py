"""Training: the tensors autograd saves for backward, per layer, and the MACs of a training step.

``training(report)`` follows the Report's graph once, forward, and applies each layer kind's
rule for what PyTorch's autograd saves (its ``tools/autograd/derivatives.yaml``, checked by
benchmarks/measure_saved_tensors.py with ``saved_tensors_hooks``, torch 2.14, CPU, train mode):

- conv (every grouping) and fc save their input (and the weight, a parameter: not counted);
- batchnorm saves its input and 4 per-channel vectors (running mean and variance, the batch's
  mean and inverse std), which do not grow with the batch;
- ReLU saves its output (in place or not, the same bytes); ReLU6 (PyTorch's hardtanh) its
  input, so the tensor the next layer saves is a second one (measured on torchvision's
  MobileNetV2, whose ReLU6 has inplace=True);
- max pooling saves its input and int64 indices the size of its output;
- average pooling saves its input, except to 1x1 (global, or adaptive to 1x1: PyTorch takes a
  mean, which saves nothing);
- dropout saves its mask, a tensor of the input's dtype on the CPU;
- add, concat, flatten, channel chunks and splits, and the channel shuffle save nothing;
  flatten's output and a chunk or split are views of their input: a layer that saves one keeps
  the whole tensor it views.

A tensor is identified by its index in the Report (0 the input, k layer k's output; a view is
its source), so a tensor two layers save is counted once, at the first. A layer runs under
autograd only when one of its inputs needs a gradient or it trains weights of its own: the
layers before the first trained one save nothing (the first conv still saves the network's
input, for its weight gradient). A kind without a rule here is listed in ``unsupported``,
never counted as 0 silently. Backward MACs: grad-input plus grad-weight, each the forward's
MACs (conv, fc, attention, matmul), grad-input only where the input needs a gradient and
grad-weight only where weights are trained.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..layers import (
    Activation,
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    Add,
    AvgPool,
    BatchNorm,
    ChannelShuffle,
    ChannelSplit,
    Concat,
    Conv,
    DepthwiseConv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    Linear,
    MatMul,
    MaxPool,
)
from .result import SAVED_ROLES, LayerReport, LayerTraining, Report, Training

INDEX_BYTES = 8  # max-pool indices are int64 whatever the dtype

# Layers whose output is a view of their input's storage in PyTorch: a layer that saves the
# view keeps the whole storage (a conv reading one half of x.chunk(2, dim=1) keeps all of x)
VIEWS = (Flatten, ChannelSplit)

Saved = Tuple[str, Tuple[int, ...], int]  # role, the tensor's identity, its bytes


def training(report: Report) -> Training:
    """Each layer's saved-for-backward bytes (first saver only) and its forward and backward MACs."""
    alias: Dict[int, int] = {0: 0}  # a tensor -> the tensor whose storage it is
    needs_grad: Dict[int, bool] = {0: False}  # the network's input needs no gradient
    counted: set[Tuple[int, ...]] = set()
    unsupported: Dict[str, int] = {}
    rows: List[LayerTraining] = []
    for r in report.layers:
        trains = r.params > 0  # frozen layers' weights are buffers: params 0
        reads_grad = [needs_grad[s] for s in r.sources]
        recorded = trains or any(reads_grad)
        needs_grad[r.index] = recorded
        alias[r.index] = alias[r.sources[0]] if isinstance(r.layer, VIEWS) and r.sources else r.index
        rule = saved_tensors(r, report, alias) if recorded else []
        if rule is None:
            unsupported[r.layer.kind] = unsupported.get(r.layer.kind, 0) + 1
        by_role = dict.fromkeys(SAVED_ROLES, 0)
        for role, tensor, size in rule or []:
            if tensor not in counted:
                counted.add(tensor)
                by_role[role] += size
        grad_input = r.macs * sum(reads_grad) if isinstance(r.layer, MatMul) else r.macs * any(reads_grad)
        rows.append(LayerTraining(r.index, tuple(by_role.values()), r.macs, grad_input,
                                  r.macs if trains else 0, rule is not None))
    return Training(tuple(rows), "cpu", tuple(sorted(unsupported.items())))


def saved_tensors(r: LayerReport, report: Report, alias: Dict[int, int]) -> Optional[List[Saved]]:
    """What autograd saves when ``r`` runs under it, by its kind's rule; None: no rule for this kind."""
    layer = r.layer

    def activation(role: str, tensor: int) -> Saved:
        storage = alias[tensor]  # a view keeps the whole of what it views alive
        return role, (storage,), report.activation_bytes(report.shape_of(storage).elements)

    def extra(role: str, elements: int, bytes_each: int, per_sample: bool = True) -> Saved:
        return role, (-r.index, SAVED_ROLES.index(role)), elements * bytes_each * (report.batch if per_sample else 1)

    x = r.sources[0] if r.sources else 0
    if isinstance(layer, (Conv, DepthwiseConv, Linear)):
        return [activation("inputs", x)]
    if isinstance(layer, BatchNorm):
        return [activation("inputs", x), extra("statistics", 4 * r.input.channels, report.bytes_per_element, False)]
    if isinstance(layer, Activation):
        if layer.function == "relu6":  # hardtanh: its input, a second tensor beside the output
            return [activation("inputs", x)]
        return [activation("outputs", r.index)] if layer.function == "relu" else None
    if isinstance(layer, MaxPool):
        return [activation("inputs", x), extra("indices", r.output.elements, INDEX_BYTES)]
    if isinstance(layer, (GlobalMaxPool, AdaptiveMaxPool)):
        return None  # adaptive max pooling: no rule measured yet
    if isinstance(layer, GlobalAvgPool):
        return []  # a mean over the positions: saves nothing
    if isinstance(layer, AdaptiveAvgPool):  # to 1x1 PyTorch takes a mean too; otherwise it saves its input
        return [] if set(r.output.spatial) == {1} else [activation("inputs", x)]
    if isinstance(layer, AvgPool):
        return [activation("inputs", x)]
    if isinstance(layer, Dropout):
        return [extra("masks", r.input.elements, report.bytes_per_element)]
    if isinstance(layer, (Add, Concat, Flatten, ChannelSplit, ChannelShuffle)):
        return []  # a shuffle is a view, a transpose and a copy: nothing saved
    return None
