"""Checking expectations and budgets (spec/expectations.py reads them) against a report.

**Follow-through.** In a chain, a layer's figures are also computed from the *expected* output
of the layer before it, when that expectation was wrong. An answer that is right given the
previous (wrong) answer passes, marked as carried forward, so one mistake in a homework listing
is reported once, on its own line, not on every line after it.

**Hints.** A wrong value that matches a classic mistake says so (params without the biases,
FLOPs for MACs, bytes for elements, a layer's input for its output ...), recognised from the
engine's own figures. **Open questions** (a listing's ``[?]``) are filled in, never failed.

No I/O. ``evaluate(report)`` returns frozen ``Outcome`` values; ``tools/check.py`` prints them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import LayerError, Location, SpecError
from ..shape import Shape, channels_first_note
from ..spec.expectations import Amount, Expectation, Limit, TrainPeak, parse_amount
from ..spec.model import FromSpec, LayerSpec
from ..values import field, replace, value
from .result import LayerReport, Report
from .working import working


@value
class Outcome:
    """One check: an expectation, a budget, or (under --strict) a stride that does not fit.

    ``status`` is 'pass', 'fail', 'unchecked' or 'answer' (an open question, filled in: never a
    failure); ``carried`` explains a pass that follows from an earlier wrong answer. ``working``
    shows how the correct value comes about (for failures and answers); ``hint`` names the
    classic mistake a wrong value matches, when it matches one.
    """

    status: str
    kind: str  # 'expect', 'budget', 'fit'
    quantity: str
    subject: str  # the layer's name, or 'network'
    expected: str
    actual: str
    message: str
    working: Tuple[str, ...] = ()
    carried: str = ""
    layer: Optional[int] = None  # the layer's index in the report
    loc: Optional[Location] = field(default=None, compare=False, repr=False)
    hint: str = ""


def receptive_field(report: Report, index: int) -> Tuple[Optional[Tuple[Any, ...]], str]:
    """The receptive field of layer ``index``'s units per axis (1-based index), or (None, why not).

    A unit that sees the whole input (after an fc layer or global pooling) has the input's size.
    Index 0 is the input itself (a network with no layers): each unit sees one pixel.
    """
    if index == 0:
        return tuple(1 for _ in report.spec.input.spatial), ""
    f = report.fields[index - 1]
    if f.status == "global":
        return tuple(report.spec.input.spatial), ""
    if f.status != "local":
        return None, f"cannot check: {f.why or 'the field is not one size'}"
    if not f.exact:
        return None, f"cannot check: the field is only known as at most {f.text()}"
    return tuple(int(a.size) if a.size.denominator == 1 else a.size for a in f.axes), ""


def leaf_specs(nodes: Sequence[Any]) -> Iterator[Optional[Any]]:
    """The LayerSpec behind each of the engine's LayerReports, in its order (None for a merge).

    The engine walks blocks branch by branch and reports a merge after its branches; this walks
    the same way (``tests/test_check.py`` keeps the two in step).
    """
    for node in nodes:
        if isinstance(node, LayerSpec):
            yield node
        elif isinstance(node, FromSpec):
            continue  # reads a named tensor: no report of its own
        else:
            for branch in node.branches:
                yield from leaf_specs(branch)
            if node.merge is not None:
                yield None


def shapes_match(expected: Shape, actual: Shape) -> bool:
    """Equal, or the same vector written two ways: 4096 and 1x1x4096 (the cs231n VGG table)."""
    if expected == actual:
        return True
    flat, spatial = (expected, actual) if expected.rank == 0 else (actual, expected)
    return flat.rank == 0 and spatial.channels == flat.channels and set(spatial.spatial) <= {1}


@value
class _Figures:
    """One layer's figures on some input: the true ones, or those that follow from an answer."""

    input: Shape
    output: Shape
    params: int
    macs: int


def _figures(rule: Any, x: Shape) -> Optional[_Figures]:
    try:
        y = rule.out_shape(x)
        return _Figures(x, y, rule.params(x), rule.macs(x))
    except (LayerError, ZeroDivisionError, ValueError):
        return None


def evaluate(report: Report, limits: Sequence[Limit] = ()) -> Tuple[Outcome, ...]:
    """Every expectation of ``report.spec`` (layers, then network) and every budget."""
    spec = report.spec
    outcomes: List[Outcome] = []
    # what the answers so far make of each tensor (0: the input): a wrong answer is carried to
    # the layers that read that tensor, along the graph's edges, not merely to the next line
    beliefs: Dict[int, Tuple[Optional[Shape], str]] = {0: (spec.input, "")}
    for ls, r in zip(leaf_specs(spec.layers), report.layers):
        src = r.sources[0] if len(r.sources) == 1 else None
        producer = report.layers[src - 1] if src else None
        same_chain = src is not None and (producer.path if producer is not None else ()) == r.path
        # a chain carries the belief; a branch starting or a merge has only the truth to go on
        believed, source = beliefs.get(src, (r.input, "")) if same_chain and src is not None else (r.input, "")
        # the rule as the engine ran it (bound to its input's rank, sizes from named tensors)
        follow = _figures(r.layer, believed) if ls is not None and believed not in (None, r.input) else None
        expectations = ls.expect if ls is not None else ()
        for e in expectations:
            outcomes.append(_check_layer(report, r, e, follow, source))
        claimed = next((e for e in expectations if e.quantity == "shape"), None)
        if claimed is not None and isinstance(claimed.expected, Shape):  # what follows builds on this answer
            right = shapes_match(claimed.expected, r.output)
            believed = r.output if right else claimed.expected
            line = f", line {claimed.loc.line}" if claimed.loc else ""
            source = "" if right else f"the answer {claimed.text} for {r.full_name}{line}"
        elif believed == r.input:
            believed = r.output
        else:
            believed = follow.output if follow is not None else None
        beliefs[r.index] = (believed, source)
    for e in spec.expect:
        outcomes.append(_check_network(report, e))
    for limit in (*spec.budget, *limits):
        outcomes.append(_check_budget(report, limit))
    return tuple(outcomes)


def _layer_value(report: Report, quantity: str, fig: _Figures, memory_bytes: bool) -> int:
    if quantity == "params":
        return fig.params
    if quantity == "macs":
        return fig.macs
    if quantity == "flops":
        return 2 * fig.macs
    elements = fig.output.elements
    return report.activation_bytes(elements) if memory_bytes else elements


def _check_layer(report: Report, r: LayerReport, e: Expectation, follow: Optional[_Figures], source: str) -> Outcome:
    truth = _Figures(r.input, r.output, r.params, r.macs)
    name = r.full_name
    topics = {"shape": ("size", "depth"), "params": ("params",), "macs": ("macs",), "flops": ("macs",),
              "memory": ("memory",)}
    if e.quantity == "receptive_field":
        sizes, why = receptive_field(report, r.index)
        return _field_outcome(e, sizes, why, name, r.index)
    if e.expected is None:
        return _answer(report, r, e, truth, topics)
    ok, shown = _compare(report, e, truth)
    if ok:
        return Outcome("pass", "expect", e.quantity, name, e.text, shown, _pass_message(e, shown), (), "", r.index,
                       e.loc)
    steps = tuple(str(s) for s in working(r, report.dtype) if s.topic in topics[e.quantity])
    if e.quantity == "flops":
        steps += (f"FLOPs = 2·MACs = {2 * r.macs:,}",)
    if follow is not None:
        carried_ok, carried_shown = _compare(report, e, follow)
        if carried_ok:
            note = f"carried forward from {source}: from the correct input {r.input} it would be {shown}"
            return Outcome("pass", "expect", e.quantity, name, e.text, carried_shown,
                           _pass_message(e, carried_shown), (), note, r.index, e.loc)
    return Outcome("fail", "expect", e.quantity, name, e.text, shown, f"{e.quantity} {e.text}, correct: {shown}",
                   steps, "", r.index, e.loc, layer_hint(report, r, e))


def _answer(report: Report, r: LayerReport, e: Expectation, truth: _Figures, topics: Dict[str, Tuple[str, ...]]) -> Outcome:
    """An open question (a listing's ``[?]``) filled in with the engine's figure, its working, and
    the line's other figures, so the student sees the whole answer."""
    if e.quantity == "shape":
        shown = str(r.output)
    else:
        shown = f"{_layer_value(report, e.quantity, truth, False):,}"
    steps = tuple(str(s) for s in working(r, report.dtype) if s.topic in topics[e.quantity])
    steps += (f"params {r.params:,} · MACs {r.macs:,} · memory {r.activations:,} activations",)
    return Outcome("answer", "expect", e.quantity, r.full_name, e.text, shown, f"{e.quantity} {shown} (filled in)",
                   steps, "", r.index, e.loc)


# --- hints: the classic mistakes, recognised from the engine's own figures -----------------------


def layer_hint(report: Report, r: LayerReport, e: Expectation) -> str:
    """The classic mistake (cs231n's pitfalls) a wrong layer answer matches, or ''.

    Every candidate is a figure the engine computed (params without ``biases``, ``2 · macs``,
    the layer's input shape, bytes at the report's dtype), never a formula recomputed here.
    """
    expected = e.expected
    if isinstance(expected, Shape):
        return _shape_hint(r, expected)
    if not isinstance(expected, Amount):
        return ""
    if e.quantity == "params" and r.biases and expected.holds(r.params - r.biases):
        per = "neuron" if r.output.rank == 0 else "output channel"
        return f"{e.text} is the weights alone: you left out the {r.biases:,} bias terms (one per {per})"
    weights = r.params - r.biases
    positions = r.output.elements // r.output.channels if r.output.channels else 0
    if (e.quantity == "macs" and weights and positions > 1 and r.macs == weights * positions
            and expected.holds(weights) and not expected.holds(2 * r.macs)):
        return (f"{e.text} is the weight count; each weight is used once at every one of the "
                f"{positions:,} output positions")
    return _work_or_memory_hint(report, e, expected, r.macs, r.activations)


def _work_or_memory_hint(report: Report, e: Expectation, expected: Amount, macs: int, activations: int) -> str:
    """MACs written as FLOPs or the other way round, and memory in the wrong unit: the same
    mistakes for a layer and for the whole network."""
    if e.quantity == "macs" and macs and expected.holds(2 * macs):
        return f"{e.text} is the FLOPs (2 per multiply-accumulate); MACs count each multiply-add once"
    if e.quantity == "flops" and macs and expected.holds(macs):
        return f"{e.text} is the MACs; a multiply-accumulate is 2 FLOPs"
    if e.quantity == "memory":
        return _memory_hint(report, e, expected, activations)
    return ""


def _shape_hint(r: LayerReport, expected: Shape) -> str:
    x, y = r.input, r.output
    filters = getattr(r.layer, "filters", None)  # conv-like rules: one output channel per filter
    if expected.spatial == y.spatial and expected.channels == x.channels != y.channels and filters == y.channels:
        return f"the output depth is the number of filters, {y.channels}, not the input depth {x.channels}"
    padded = _padding_hint(r, expected)  # before "that is its input": it says why the size is not kept
    if padded:
        return padded
    if x != y and shapes_match(expected, x):
        return f"that is {r.name}'s input; its output is {y}"
    if expected.rank == 0 and x.rank > 0 and expected.channels == x.elements != y.elements:
        return f"{expected.channels:,} is {x} flattened, what {r.name} takes in; its output is {y}"
    if expected.rank > 0 and (*expected.dims[1:], expected.dims[0]) == y.dims:
        return (f"{expected} is written channels-first (C×H×W, as PyTorch prints shapes); convcalc writes "
                f"sizes first and channels last: {y}")
    return channels_first_note(expected.dims)


def _padding_hint(r: LayerReport, expected: Shape) -> str:
    """A windowed layer answered as if it kept its input's size when its padding does not (a 5x5
    conv with padding 1 answered as 32x32 on 32x32): the padding that would keep it, found by
    running the layer's own rule with each padding from 0 up to its kernel, not by a formula of
    its own. Other wrong sizes get no padding hint: a stride or a kernel may be what was missed."""
    rule, x, y = r.layer, r.input, r.output
    padding, kernel = getattr(rule, "padding", None), getattr(rule, "kernel", None)
    if (not isinstance(padding, tuple) or not kernel or expected.spatial != x.spatial
            or expected.channels != y.channels or y.spatial == x.spatial):
        return ""
    for p in range(max(kernel) * max(getattr(rule, "dilation", (1,))) + 1):
        try:
            if replace(rule, padding=(p,)).out_shape(x) == expected:
                return (f"padding {p} keeps the size {'x'.join(map(str, x.spatial))}: with padding "
                        f"{'x'.join(map(str, padding))} the output is {y}")
        except (LayerError, ValueError):
            continue
    return ""


def _memory_hint(report: Report, e: Expectation, expected: Amount, elements: int) -> str:
    """Elements written where bytes were meant and back, and MB (10^6) mixed up with MiB (2^20)."""
    in_bytes = report.activation_bytes(elements)
    per = f"{report.bytes_per_element} per element at {report.dtype}, batch {report.batch}"
    if not expected.bytes and in_bytes != elements and expected.holds(in_bytes):
        return f"{e.text} is bytes ({per}); memory counts elements unless a byte unit is written, e.g. 1.1MiB"
    if expected.bytes and in_bytes != elements and expected.holds(elements):
        return f"{e.text} is the element count; in bytes it is {in_bytes:,} ({per})"
    if expected.bytes:
        other = _other_byte_unit(e.text)
        if other is not None and other.holds(in_bytes):
            return f"{e.text} holds in {other.text}: KB, MB, GB are powers of 1000, KiB, MiB, GiB of 1024"
    return ""


def _other_byte_unit(text: str) -> Optional[Amount]:
    """``1.1MB`` read as ``1.1MiB`` and the other way round, to spot a mixed-up prefix."""
    m = re.match(r"^(.*?)([kmgt])(i?)b\s*$", text, re.I)
    if m is None or re.search(r"±|\+-|\+/-", text):
        return None
    swapped = f"{m.group(1)}{m.group(2)}{'' if m.group(3) else 'i'}B"
    try:
        return parse_amount(swapped, allow_bytes=True)
    except SpecError:
        return None


def _compare(report: Report, e: Expectation, fig: _Figures) -> Tuple[bool, str]:
    """Whether ``e`` holds for ``fig``, and the actual value as shown."""
    if e.quantity == "shape":
        assert isinstance(e.expected, Shape)
        return shapes_match(e.expected, fig.output), str(fig.output)
    assert isinstance(e.expected, Amount)
    value = _layer_value(report, e.quantity, fig, e.expected.bytes)
    return e.expected.holds(value), _amount_text(value, e.expected)


def _amount_text(value: int, expected: Amount) -> str:
    unit = " B" if expected.bytes else ""
    return f"{value:,}{unit}"


def _pass_message(e: Expectation, shown: str) -> str:
    if isinstance(e.expected, Amount) and not e.expected.exact:
        return f"{e.quantity} {e.text} ({shown}, {e.expected.tolerance_text()})"
    if e.quantity == "shape" and shown != e.text.replace(" ", ""):
        return f"{e.quantity} {e.text} (= {shown})"
    return f"{e.quantity} {shown}"


def _field_outcome(e: Expectation, sizes: Optional[Tuple[int, ...]], why: str, name: str,
                   index: Optional[int]) -> Outcome:
    assert isinstance(e.expected, tuple)
    if sizes is None:
        return Outcome("unchecked", "expect", e.quantity, name, e.text, "", f"receptive_field {e.text}: {why}",
                       (), "", index, e.loc)
    wanted = e.expected * len(sizes) if len(e.expected) == 1 else e.expected
    shown = "x".join(map(str, sizes)) if len(set(sizes)) > 1 else str(sizes[0])
    if tuple(wanted) == tuple(sizes):
        return Outcome("pass", "expect", e.quantity, name, e.text, shown, f"receptive_field {shown}", (), "", index,
                       e.loc)
    return Outcome("fail", "expect", e.quantity, name, e.text, shown, f"receptive_field {e.text}, correct: {shown}",
                   (), "", index, e.loc)


def _network_value(report: Report, quantity: str, memory_bytes: bool) -> int:
    t = report.totals
    if quantity == "params":
        return int(t.params)
    if quantity == "macs":
        return int(t.macs)
    if quantity == "flops":
        return int(t.flops)
    return int(report.activation_bytes(t.activations) if memory_bytes else t.activations)


def _sum_working(report: Report, quantity: str, memory_bytes: bool) -> Tuple[str, ...]:
    """``params = 34,944 + 614,656 + … = 62,378,344 (conv1, conv2, …)``: the non-zero layers."""
    if quantity == "memory":
        terms = [(report.spec.input.elements, "input")] + [(r.activations, r.full_name) for r in report.layers]
    else:
        key: Callable[[Any], int] = {"params": lambda r: r.params, "macs": lambda r: r.macs,
                                     "flops": lambda r: r.flops}[quantity]
        terms = [(key(r), r.full_name) for r in report.layers if key(r)]
    total = _network_value(report, quantity, False)
    label = {"macs": "MACs", "flops": "FLOPs"}.get(quantity, quantity)
    shown = terms if len(terms) <= 8 else terms[:6]
    more = "" if len(terms) <= 8 else f" + … ({len(terms) - 6} more)"
    expression = " + ".join(f"{v:,}" for v, _ in shown) + more
    names = ", ".join(n for _, n in shown) + (", …" if more else "")
    lines = [f"{label} = {expression} = {total:,} ({names})" if terms else f"{label} = 0"]
    if quantity == "memory" and memory_bytes:
        lines.append(f"bytes = {total:,} × {report.bytes_per_element} ({report.dtype}) × {report.batch} (batch) = "
                     f"{report.activation_bytes(total):,}")
    return tuple(lines)


def _check_network(report: Report, e: Expectation) -> Outcome:
    if isinstance(e.expected, TrainPeak):
        t = e.expected
        return check_train(report, t.batch, t.optimizer, t.peak, t.ceiling, "expect", e.text, e.loc)
    if e.quantity == "receptive_field":
        sizes, why = receptive_field(report, len(report.layers))
        return _field_outcome(e, sizes, why, "network", None)
    if e.quantity == "shape":
        assert isinstance(e.expected, Shape)
        out = report.output
        if shapes_match(e.expected, out):
            return Outcome("pass", "expect", "shape", "network", e.text, str(out), _pass_message(e, str(out)), (),
                           "", None, e.loc)
        last = report.layers[-1] if report.layers else None
        steps = tuple(str(s) for s in working(last, report.dtype) if s.topic in ("size", "depth")) if last else ()
        return Outcome("fail", "expect", "shape", "network", e.text, str(out), f"output {e.text}, correct: {out}",
                       steps, "", None, e.loc)
    assert isinstance(e.expected, Amount)
    value = _network_value(report, e.quantity, e.expected.bytes)
    shown = _amount_text(value, e.expected)
    if e.expected.holds(value):
        return Outcome("pass", "expect", e.quantity, "network", e.text, shown, _pass_message(e, shown), (), "", None,
                       e.loc)
    return Outcome("fail", "expect", e.quantity, "network", e.text, shown, f"{e.quantity} {e.text}, correct: {shown}",
                   _sum_working(report, e.quantity, e.expected.bytes), "", None, e.loc, _network_hint(report, e))


def _network_hint(report: Report, e: Expectation) -> str:
    """The classic mistakes of a network total, from the report's own totals (see ``layer_hint``)."""
    t = report.totals
    expected = e.expected
    assert isinstance(expected, Amount)
    if e.quantity == "params" and t.biases and expected.holds(t.params - t.biases):
        return f"{e.text} is the weights alone: you left out the {t.biases:,} bias terms (`--no-bias` counts so)"
    return _work_or_memory_hint(report, e, expected, t.macs, t.activations)


def check_train(report: Report, batch: int, optimizer: str, amount: Amount, ceiling: bool, kind: str, text: str,
                loc: Optional[Location], source: str = "") -> Outcome:
    """The peak of one training step at ``batch`` with ``optimizer`` (``convcalc plan``'s) against
    a ceiling or an expected figure; a failure names where the peak binds and the largest batch
    that would fit."""
    from .step import largest_batch, step_at

    def at(n: int) -> Any:
        return step_at(report, n, optimizer)

    the_step = at(batch)
    peak = the_step.peak_bytes
    shown = _amount_text(peak, amount)
    label = f"training peak (batch {batch}, {optimizer})"
    where = f" ({source})" if source else ""
    ok = amount.within(peak) if ceiling else amount.holds(peak)
    incomplete = "" if the_step.complete else " (incomplete: a layer kind without a saved-tensor rule is left out)"
    if ok:
        return Outcome("pass", kind, "train", "network", text, shown,
                       f"{label} {shown} {'≤' if ceiling else '='} {amount.text}{where}{incomplete}", (), "", None, loc)
    binds = the_step.peak
    name = report.layers[binds.layer - 1].full_name if 0 < binds.layer <= len(report.layers) else ""
    steps = (f"peak = {' + '.join(f'{k} {v:,}' for k, v in binds.breakdown().items() if v)} = {peak:,} B, "
             f"at the {binds.phase}{' of ' + name if name else ''} (convcalc plan --batch {batch} --optimizer "
             f"{optimizer})",)
    hint = ""
    if ceiling:
        fit = largest_batch(at, int(amount.value), 0)
        hint = (f"the largest batch whose peak fits {amount.text} is {fit.batch}" if fit.batch
                else f"not even batch 1 fits {amount.text}")
        over = peak - amount.value
        message = f"{label} {shown} > {amount.text}{where}, over by {float(over / amount.value * 100):.1f}%"
    else:
        message = f"{label} {amount.text}, correct: {shown}"
    return Outcome("fail", kind, "train", "network", text, shown, message + incomplete, steps, "", None, loc, hint)


def _check_budget(report: Report, limit: Limit) -> Outcome:
    if limit.quantity == "train":
        return check_train(report, report.batch, limit.optimizer, limit.amount, True, "budget", limit.amount.text,
                           limit.loc, limit.source)
    value = _network_value(report, limit.quantity, limit.amount.bytes)
    shown = _amount_text(value, limit.amount)
    label = {"macs": "MACs", "flops": "FLOPs"}.get(limit.quantity, limit.quantity)
    where = f" ({limit.source})" if limit.source != "budget" else ""
    if limit.amount.within(value):
        return Outcome("pass", "budget", limit.quantity, "network", limit.amount.text, shown,
                       f"{label} {shown} ≤ {limit.amount.text}{where}", (), "", None, limit.loc)
    over = value - limit.amount.value
    share = float(over / limit.amount.value * 100) if limit.amount.value else float("inf")
    return Outcome("fail", "budget", limit.quantity, "network", limit.amount.text, shown,
                   f"{label} {shown} > {limit.amount.text}{where}, over by {share:.1f}%",
                   _sum_working(report, limit.quantity, limit.amount.bytes), "", None, limit.loc)
