"""Memory: what a forward pass and inference hold, in bytes with binary prefixes.

- **forward activations**: the input and every layer's output, kept (the cs231n notes' "TOTAL
  memory ... / image (only forward!)"), times the batch.
- **inference peak**: the largest set of tensors alive at once when outputs are freed as soon as
  nothing needs them: along a chain a layer's input and output; through a block also the block's
  input (until its last branch starts) and the finished branches' outputs (until the merge).
- **training**: not here. The Report's training figure is the peak of one training step
  (step.py, from what autograd saves, training.py): not every activation kept plus weights,
  gradients and state, which overstated ResNet-50 at batch 32 by 80% (issue 20).
"""

from __future__ import annotations

from typing import List, Sequence

from ..shape import Shape
from .result import LayerReport, Memory, OutputReport, Totals


def memory(input: Shape, layers: Sequence[LayerReport], outputs: Sequence[OutputReport], totals: Totals,
           dtype: str, batch: int, optimizer: str) -> Memory:
    """What a forward pass and inference hold: the totals' elements and the live set (the training
    peak is filled in by the engine, from step.py)."""
    return Memory(dtype, batch, optimizer, totals.params, totals.buffers, totals.activations,
                  inference_peak(input, layers, outputs))


def inference_peak(input: Shape, layers: Sequence[LayerReport], outputs: Sequence[OutputReport]) -> int:
    """The most activation elements alive at once in a forward pass that frees what it can.

    A tensor lives from the layer that computes it to its last reader (``LayerReport.sources``),
    and a network output to the end: a skip from far back (U-Net's encoder maps) stays alive
    across everything in between. While a layer runs, its inputs and its output are alive.
    """
    n = len(layers)
    sizes = [input.elements] + [r.output.elements for r in layers]
    last_read = [0] * (n + 1)
    for r in layers:
        for s in r.sources:
            last_read[s] = max(last_read[s], r.index)
    for o in outputs:
        last_read[o.tensor] = n + 1
    freed_after: List[List[int]] = [[] for _ in range(n + 2)]
    for t, k in enumerate(last_read):
        freed_after[max(k, t)].append(t)  # never read: freed as soon as it is made
    alive = peak = sizes[0]
    for t in freed_after[0]:
        alive -= sizes[t]
    for r in layers:
        alive += sizes[r.index]
        peak = max(peak, alive)
        for t in freed_after[r.index]:
            alive -= sizes[t]
    return peak
