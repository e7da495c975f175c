"""Reference merges, where branches meet: add, mul and concat of tensors, concat along another
dim, and the matrix product (whose products are MACs, counted as it makes them)."""

from __future__ import annotations

import itertools
import math
from operator import add, mul
from typing import Callable, List

from ..flat import row_major
from .base import Result, Tensor, channels_last, from_channels_last


def add_tensors(*xs: Tensor) -> Result:
    """A residual merge: element-wise sum of tensors of one shape. Additions are not MACs."""
    if not xs or any(x.shape != xs[0].shape for x in xs):
        raise ValueError(f"add needs tensors of one shape, got {[x.shape for x in xs]}")
    total = xs[0].data
    for x in xs[1:]:
        total = list(map(add, total, x.data))
    return Result(Tensor(xs[0].shape, list(total)))


def mul_tensors(*xs: Tensor) -> Result:
    """Element-wise product (squeeze-and-excitation's gate); a tensor with one position per axis
    broadcasts over the others. Not a MAC: nothing is summed."""
    if not xs:
        raise ValueError("mul needs at least one tensor")
    full = max(xs, key=lambda x: len(x.data))
    total = full.data
    for x in xs:
        if x is full:
            continue
        if x.shape == full.shape:
            total = list(map(mul, total, x.data))
        elif x.channels == full.channels and len(x.spatial) == len(full.spatial) and x.plane == 1:
            n = full.plane
            total = [v * x.data[i // n] for i, v in enumerate(total)]
        else:
            raise ValueError(f"mul cannot broadcast {x.shape} to {full.shape}")
    return Result(Tensor(full.shape, list(total)))


def concat_tensors(*xs: Tensor) -> Result:
    """An inception merge: stack along the channels; the spatial sizes must agree."""
    if not xs or any(x.spatial != xs[0].spatial for x in xs):
        raise ValueError(f"concat needs one spatial size, got {[x.shape for x in xs]}")
    return Result(Tensor((sum(x.channels for x in xs), *xs[0].spatial), [v for x in xs for v in x.data]))


def concat_along(axis: int) -> Callable[..., Result]:
    """Tensors joined along dim ``axis`` (channels last): every other dim must agree."""

    def join(*xs: Tensor) -> Result:
        parts = [channels_last(x) for x in xs]
        dims = [d for d, _ in parts]
        if any(len(d) != len(dims[0]) or d[:axis] + d[axis + 1:] != dims[0][:axis] + dims[0][axis + 1:]
               for d in dims):
            raise ValueError(f"cannot join {dims} along axis {axis}")
        outer = math.prod(dims[0][:axis])
        out: List[float] = []
        for i in range(outer):
            for d, data in parts:
                block = math.prod(d[axis:])
                out += data[i * block:(i + 1) * block]
        joined = list(dims[0])
        joined[axis] = sum(d[axis] for d in dims)
        return Result(from_channels_last(joined, out))

    return join


def matmul_tensors(a: Tensor, b: Tensor) -> Result:
    """``a @ b`` as ``torch.matmul``: the last two dims multiply, the leading ones broadcast. Counts
    one MAC per product it sums, by doing them."""
    (da, xa), (db, xb) = channels_last(a), channels_last(b)
    if len(da) < 2 or len(db) < 2 or da[-1] != db[-2]:
        raise ValueError(f"cannot multiply {da} by {db}")
    m, k, n = da[-2], da[-1], db[-1]
    lead = max(len(da), len(db)) - 2
    pa, pb = (1,) * (lead - len(da) + 2) + tuple(da[:-2]), (1,) * (lead - len(db) + 2) + tuple(db[:-2])
    if any(i != j and 1 not in (i, j) for i, j in zip(pa, pb)):
        raise ValueError(f"cannot broadcast {da} and {db}")
    batch = [max(i, j) for i, j in zip(pa, pb)]
    sa, sb = row_major(pa), row_major(pb)
    out: List[float] = []
    macs = 0
    for index in itertools.product(*map(range, batch)):
        oa = sum((i if d > 1 else 0) * s for i, d, s in zip(index, pa, sa)) * m * k
        ob = sum((i if d > 1 else 0) * s for i, d, s in zip(index, pb, sb)) * k * n
        for r in range(m):
            row = xa[oa + r * k:oa + (r + 1) * k]
            for c in range(n):
                out.append(math.fsum(row[t] * xb[ob + t * n + c] for t in range(k)))
                macs += k
    return Result(from_channels_last((*batch, m, n), out), macs)
