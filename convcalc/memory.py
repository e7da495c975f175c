"""Memory: what a forward pass, inference and training hold, in bytes with binary prefixes.

- **forward activations**: the input and every layer's output, kept (the cs231n notes' "TOTAL
  memory ... / image (only forward!)"), times the batch.
- **inference peak**: the largest set of tensors alive at once when outputs are freed as soon as
  nothing needs them: along a chain a layer's input and output; through a block also the block's
  input (until its last branch starts) and the finished branches' outputs (until the merge).
- **training estimate**: the forward activations (kept for the backward pass), plus weights,
  their gradients and the optimizer's state (sgd 0, momentum 1, adam 2 copies of the
  trainable parameters), plus buffers. Framework workspace and allocator overhead are not
  modelled.
"""

from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

from .engine import DTYPE_BYTES, OPTIMIZER_STATES, LayerReport, Report
from .spec import LayerSpec, Node
from .values import value


@value
class Memory:
    """Element counts per sample and the byte figures they make for a dtype, batch and optimizer."""

    dtype: str
    batch: int
    optimizer: str
    params: int
    buffers: int
    activations: int  # forward, per sample, input included
    peak: int  # inference live set, per sample

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def weight_bytes(self) -> int:
        return (self.params + self.buffers) * self.bytes_per_element

    @property
    def forward_bytes(self) -> int:
        return self.activations * self.batch * self.bytes_per_element

    @property
    def inference_bytes(self) -> int:
        """Weights plus the peak live activations."""
        return self.weight_bytes + self.peak * self.batch * self.bytes_per_element

    @property
    def gradient_bytes(self) -> int:
        return self.params * self.bytes_per_element

    @property
    def optimizer_bytes(self) -> int:
        return OPTIMIZER_STATES[self.optimizer] * self.params * self.bytes_per_element

    @property
    def training_bytes(self) -> int:
        return self.forward_bytes + self.weight_bytes + self.gradient_bytes + self.optimizer_bytes


def memory(report: Report) -> Memory:
    totals = report.totals
    return Memory(report.dtype, report.batch, report.conventions.optimizer, totals.params, totals.buffers,
                  totals.activations, inference_peak(report))


def inference_peak(report: Report) -> int:
    """The most activation elements alive at once in a forward pass that frees what it can."""
    _, peak = _chain(report.spec.layers, report.spec.input.elements, 0, iter(report.layers))
    return peak


def _chain(nodes: Sequence[Node], x: int, held: int, reports: Iterator[LayerReport]) -> Tuple[int, int]:
    """Walk ``nodes`` from a current tensor of ``x`` elements while ``held`` others stay alive.

    Returns the final tensor's size and the peak.
    """
    peak = held + x
    for node in nodes:
        if isinstance(node, LayerSpec):
            y = next(reports).output.elements
            peak = max(peak, held + x + y)
            x = y
            continue
        outputs: List[int] = []  # finished branches, waiting for the merge
        input_kept_by_identity = False
        for i, branch in enumerate(node.branches):
            later = i < len(node.branches) - 1
            if not branch:  # the identity: its output is the block's input itself
                outputs.append(x)
                input_kept_by_identity = True
                continue
            keep = x if later and not input_kept_by_identity else 0
            waiting = sum(outputs)
            if keep or input_kept_by_identity:  # the input stays; the branch starts from it
                end, p = _chain(branch, 0, held + waiting + x, reports)
            else:
                end, p = _chain(branch, x, held + waiting, reports)
            outputs.append(end)
            peak = max(peak, p)
        if node.merge is not None:
            y = next(reports).output.elements
            peak = max(peak, held + sum(outputs) + y)
            x = y
        else:
            x = outputs[0]
    return x, peak
