"""Solve ``W2 = (W1 − F + 2P)/S + 1`` for whatever is unknown, as the lecture notes ask:
"F = 5, S = 2, P = ? (whatever fits)".

Any of the input size W1, the output size W2, the kernel F, the stride S and the padding P may
be left out; the dilation D is given (default 1). Every candidate in a small stated range is run
through the engine's own ``Window`` (``shape.py``), so a solution here is exactly what the table
would compute. Solutions are sorted so the conventional ones come first:

1. symmetric padding where the stride fits exactly;
2. symmetric padding where the size is floored (PyTorch's default) but only padding is left over;
3. TensorFlow's asymmetric 'same' padding (the odd pixel after), which fits exactly;
4. floored sizes that never read the last input pixels;
5. solutions that need ceil mode (pools with ``ceil_mode=True`` only);

and within each, 'same'-style ``P = (F − 1)/2`` first, then 'valid' ``P = 0``, then the rest.
When W2 is unknown only exact fits are listed (any floor would "fit" something).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..analysis.working import axis_step
from ..errors import SpecError
from ..shape import Window, same_padding
from ..values import value

DEFAULT_MAX_KERNEL = 11
# (kernel, stride, padding, size) combinations tried, at most. Nearly every candidate of a wide
# search is a solution (``--out 7 -s 16 --max-kernel 227``: 800,000 tried, 657,000 found, 7-11 s
# and 334 MB under the former cap of 1,000,000), and JSON lists them all, so the cap is what
# fits in about a second even as JSON: 20,000 candidates (~17,000 solutions) take ~0.35 s as
# text and ~1 s and ~85 MB as JSON, measured on a loaded 2-core machine.
MAX_CANDIDATES = 20_000
ROUNDING_ORDER = {"exact": 0, "floor": 1, "same": 2, "lossy": 3, "ceil": 4}


@value
class Problem:
    """What is given (None = unknown), and the bounds of the search for what is not."""

    size: Optional[int] = None  # W1
    out: Optional[int] = None  # W2
    kernel: Optional[int] = None  # F
    stride: Optional[int] = None  # S
    padding: Optional[int] = None  # P, per side
    dilation: int = 1  # D
    pool: bool = False  # pools: padding at most F/2, and ceil mode is theirs
    max_kernel: Optional[int] = None
    max_stride: Optional[int] = None
    max_padding: Optional[int] = None

    @property
    def unknowns(self) -> Tuple[str, ...]:
        names = (("W1", self.size), ("F", self.kernel), ("S", self.stride), ("P", self.padding))
        return tuple(n for n, v in names if v is None) + (("W2",) if self.out is None else ())

    def kernels(self) -> range:
        if self.kernel is not None:
            return range(self.kernel, self.kernel + 1)
        return range(1, (self.max_kernel or DEFAULT_MAX_KERNEL) + 1)

    def strides(self, f_eff: int) -> range:
        """By default 1 to F_eff (a longer stride skips input), and at least 1 to 2 (ResNet's 1x1 s2)."""
        if self.stride is not None:
            return range(self.stride, self.stride + 1)
        return range(1, (self.max_stride or max(f_eff, 2)) + 1)

    def paddings(self, kernel: int, f_eff: int) -> range:
        """By default 0 to F_eff − 1 (more gives windows of nothing but padding); pools: up to F/2."""
        if self.padding is not None:
            return range(self.padding, self.padding + 1)
        top = self.max_padding if self.max_padding is not None else (kernel // 2 if self.pool else f_eff - 1)
        return range(0, top + 1)

    def ranges_text(self) -> str:
        """The search ranges of the unknowns, as the output states them (numbers when F is given)."""
        f_eff = None if self.kernel is None else self.dilation * (self.kernel - 1) + 1
        parts = []
        if self.kernel is None:
            parts.append(f"F from 1 to {self.max_kernel or DEFAULT_MAX_KERNEL}")
        if self.stride is None:
            top = self.max_stride or (max(f_eff, 2) if f_eff else "max(F_eff, 2)")
            parts.append(f"S from 1 to {top}")
        if self.padding is None:
            if self.max_padding is not None:
                parts.append(f"P from 0 to {self.max_padding}")
            elif self.pool:
                parts.append(f"P from 0 to {self.kernel // 2 if self.kernel else 'F/2'} (a pool's limit)")
            else:
                parts.append(f"P from 0 to {f_eff - 1 if f_eff else 'F_eff − 1'}")
        return ", ".join(parts)

    def given(self) -> Dict[str, int]:
        values = {"W1": self.size, "F": self.kernel, "S": self.stride, "P": self.padding, "W2": self.out}
        given = {k: v for k, v in values.items() if v is not None}
        if self.dilation != 1:
            given["D"] = self.dilation
        return given


@value
class Solution:
    """One way to make the layer fit: the window (padding resolved), its output, how it rounds."""

    window: Window
    out: int
    rounding: str  # 'exact', 'floor' (PyTorch's default), 'same' (asymmetric, exact), 'ceil'

    @property
    def padding(self) -> Tuple[int, int]:
        return (self.window.pad_before, self.window.pad_after)

    @property
    def convention(self) -> str:
        """'same' for P = (F_eff − 1)/2 (keeps the size at stride 1), 'valid' for P = 0, else ''."""
        w = self.window
        if self.rounding == "same" or (w.pad_before == w.pad_after and w.effective_kernel % 2 == 1
                                       and 2 * w.pad_before == w.effective_kernel - 1 and w.pad_before > 0):
            return "same"
        if w.pad_before == w.pad_after == 0:
            return "valid"
        return ""

    @property
    def lost(self) -> int:
        """Input pixels a floored size never reads (what is left over, less the right padding)."""
        if self.rounding != "floor":
            return 0
        return max(0, self.window.span % self.window.stride - self.window.pad_after)

    def padding_text(self) -> str:
        b, a = self.padding
        return str(b) if b == a else f"{b} + {a}"

    def label(self, unknowns: Tuple[str, ...]) -> str:
        w = self.window
        values = {"W1": str(w.size), "F": str(w.kernel), "S": str(w.stride), "P": self.padding_text(),
                  "W2": str(self.out)}
        shown = [n for n in unknowns if n in values]
        return ", ".join(f"{n} = {values[n]}" for n in shown) if shown else "given"

    def working(self) -> str:
        """The substituted formula, written by the same code as ``convcalc conv``'s working."""
        step = axis_step("W2", self.window, self.out)
        return f"{step.expression} = {step.result}"

    def notes(self) -> List[str]:
        w = self.window
        notes = []
        if self.rounding == "floor" and self.lost:
            unread = "the last input pixel" if self.lost == 1 else f"the last {self.lost} input pixels"
            notes.append(f"floored (PyTorch): {unread} never read")
        elif self.rounding == "floor":
            notes.append("floored (PyTorch): only padding left over")
        elif self.rounding == "same":
            notes.append(f"TensorFlow's 'same': {w.pad_before} before, {w.pad_after} after")
        elif self.rounding == "ceil":
            notes.append("ceil mode only (pools)")
        if self.rounding != "same":
            if self.convention == "same":
                notes.append("'same'-style P = (F − 1)/2" if self.window.dilation == 1 else
                             "'same'-style P = (F_eff − 1)/2")
            elif self.convention == "valid":
                notes.append("'valid'")
        return notes


@value
class Solved:
    problem: Problem
    solutions: Tuple[Solution, ...]

    @property
    def unknowns(self) -> Tuple[str, ...]:
        return self.problem.unknowns

    def explanation(self) -> str:
        """Why nothing fits exactly, when the reason is simple enough to say."""
        p = self.problem
        if any(s.rounding == "exact" for s in self.solutions):
            return ""
        if (p.padding is None and p.size is not None and p.kernel is not None and p.stride is not None
                and p.stride % 2 == 0):
            f_eff = p.dilation * (p.kernel - 1) + 1
            if (p.size - f_eff) % 2:
                return (f"No symmetric padding fits exactly: W1 − F = {p.size} − {f_eff} = {p.size - f_eff} is odd,\n"
                        f"so W1 − F + 2P is odd for every P and stride {p.stride} never divides it.")
        if not self.solutions:
            return ("No solution in these ranges; widen them with --max-kernel, --max-stride or --max-padding, "
                    "or leave out a value you gave.")
        return ""


    def formula(self) -> str:
        if self.problem.dilation != 1:
            return "W2 = (W1 − F_eff + 2P)/S + 1 with F_eff = D·(F − 1) + 1"
        return "W2 = (W1 − F + 2P)/S + 1"

    def lines(self, limit: int = 50) -> List[str]:
        """The text ``convcalc solve`` prints: the problem, one line per solution, why none is exact."""
        p = self.problem
        unknowns = self.unknowns
        given = ", ".join(f"{k} = {v}" for k, v in p.given().items())
        ranges = p.ranges_text()
        if unknowns:
            names = [u for u in unknowns]
            wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            head = f"Solving {self.formula()} for {wanted}, given {given}" + (f" ({ranges})" if ranges else "") + ":"
        else:
            head = f"Checking {self.formula()} with {given}:"
        lines = [head]
        shown = self.solutions[:limit]
        rows = [(s.label(unknowns), s.working(), "; ".join(s.notes())) for s in shown]
        if rows:
            w0 = max(len(r[0]) for r in rows)
            w1 = max(len(r[1]) for r in rows)
            lines += [f"  {a.ljust(w0)}   {b.ljust(w1)}   {c}".rstrip() for a, b, c in rows]
        elif not unknowns and p.size is not None and p.kernel is not None and p.stride is not None:
            w = Window(p.size, p.kernel, p.stride, p.dilation, p.padding or 0, p.padding or 0)
            if w.span >= 0:
                step = axis_step("W2", w, w.out_size)
                lines.append(f"  does not hold: {step.expression} = {step.result}, not {p.out}")
            else:
                lines.append(f"  does not hold: the window ({w.effective_kernel}) is larger than the padded input "
                             f"({w.padded})")
        if len(self.solutions) > limit:
            lines.append(f"  … and {len(self.solutions) - limit} more (--format json lists them all)")
        why = self.explanation()
        if why:
            lines.append(why)
        return lines

    def to_dict(self) -> Dict[str, Any]:
        p = self.problem
        names = {"W1": "in", "W2": "out", "F": "kernel", "S": "stride", "P": "padding", "D": "dilation"}
        return {
            "schema_version": 1,
            "formula": self.formula(),
            "given": {names[k]: v for k, v in p.given().items()},
            "unknowns": [names[u] for u in self.unknowns],
            "ranges": p.ranges_text(),
            "solutions": [
                {"in": s.window.size, "out": s.out, "kernel": s.window.kernel, "stride": s.window.stride,
                 "padding": list(s.padding), "dilation": s.window.dilation, "rounding": s.rounding,
                 "convention": s.convention or None, "working": s.working(), "notes": s.notes()}
                for s in self.solutions
            ],
            "explanation": self.explanation() or None,
        }


def solve(p: Problem) -> Solved:
    """Every solution of the problem in its search ranges, the conventional ones first."""
    if p.size is None and p.out is None:
        raise SpecError("give the input size (--in) or the output size (--out), or both",
                        hint="for example: convcalc solve --in 32 -k 5 -s 2 --out 16")
    _refuse_a_huge_search(p)
    found: List[Solution] = []
    for kernel in p.kernels():
        f_eff = p.dilation * (kernel - 1) + 1
        for stride in p.strides(f_eff):
            for pad in p.paddings(kernel, f_eff):
                for size in _sizes(p, f_eff, stride, pad):
                    found.extend(_classify(p, Window(size, kernel, stride, p.dilation, pad, pad)))
            if p.padding is None and p.size is not None:
                found.extend(_same(p, kernel, f_eff, stride))
    found.sort(key=_preference)
    return Solved(p, tuple(found))


def _refuse_a_huge_search(p: Problem) -> None:
    """Count the candidates before trying any (each kernel's count is a product), so a search too
    large to be useful is refused at once, not after a million tries."""
    kernels = p.kernels()
    total = 0
    if len(kernels) <= MAX_CANDIDATES:
        for kernel in kernels:
            f_eff = p.dilation * (kernel - 1) + 1
            strides = p.strides(f_eff)
            sizes = 1 if p.size is not None else 2 * strides[-1]  # at most: see _sizes
            total += len(strides) * len(p.paddings(kernel, f_eff)) * sizes
            if total > MAX_CANDIDATES:
                break
    if len(kernels) > MAX_CANDIDATES or total > MAX_CANDIDATES:
        raise SpecError(f"the search would try more than {MAX_CANDIDATES:,} combinations",
                        hint="give more of the values, or smaller --max-* ranges")


def _sizes(p: Problem, f_eff: int, stride: int, pad: int) -> range:
    """Input sizes to try: the given one, or those whose output could be ``p.out`` (floor or ceil)."""
    if p.size is not None:
        return range(p.size, p.size + 1)
    assert p.out is not None
    exact = (p.out - 1) * stride + f_eff - 2 * pad
    return range(max(1, exact - stride + 1), max(1, exact + stride))


def _classify(p: Problem, w: Window) -> List[Solution]:
    if p.pool and w.pad_before > w.kernel // 2:  # the pool rule's bound (Window.most_padding)
        return []
    if w.span < 0:  # only ceil mode gives an output then (PyTorch: the window starts inside)
        ceil = Window(w.size, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_after, ceil_mode=True)
        return [Solution(ceil, 1, "ceil")] if p.out == 1 and ceil.out_size == 1 else []
    out = w.out_size
    if p.out is None:
        return [Solution(w, out, "exact")] if w.fits else []
    if out == p.out:
        return [Solution(w, out, "exact" if w.fits else "floor")]
    ceil = Window(w.size, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_after, ceil_mode=True)
    if ceil.out_size == p.out:
        return [Solution(ceil, p.out, "ceil")]
    return []


def _same(p: Problem, kernel: int, f_eff: int, stride: int) -> List[Solution]:
    """TensorFlow's 'same', when it pads unevenly (even padding is already among the symmetric ones)."""
    assert p.size is not None
    before, after = same_padding(p.size, f_eff, stride)
    if before == after:
        return []
    w = Window(p.size, kernel, stride, p.dilation, before, after)
    if p.out is not None and w.out_size != p.out:
        return []
    if p.pool and 2 * after > kernel:
        return []
    return [Solution(w, w.out_size, "same")]


def _preference(s: Solution) -> Tuple[int, int, int, int, int, int]:
    w = s.window
    convention = {"same": 0, "valid": 1}.get(s.convention, 2)
    rounding = "lossy" if s.lost else s.rounding
    return (ROUNDING_ORDER[rounding], convention, w.stride, w.pad_before + w.pad_after, w.kernel, w.size)

