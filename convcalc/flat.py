"""Row-major index arithmetic on flat lists of values, with no array library: the reference's
views (permute, take, slice) and the ONNX importer's shape program (onnx_fold) share it."""

from __future__ import annotations

from typing import List, Sequence


def row_major(dims: Sequence[int]) -> List[int]:
    """The step in a flat row-major list for one along each dim."""
    steps = [1] * len(dims)
    for i in range(len(dims) - 2, -1, -1):
        steps[i] = steps[i + 1] * dims[i + 1]
    return steps


def offsets(picks: Sequence[Sequence[int]], steps: Sequence[int]) -> List[int]:
    """Flat offsets of every combination of ``picks`` (the indices taken along each dim, in
    order), each dim moving by its step: built a dim at a time, one addition per offset."""
    out = [0]
    for indices, step in zip(picks, steps):
        out = [o + k * step for o in out for k in indices]
    return out
