"""The step: the memory of one training step, moment by moment, its peak and where it falls.

``step(report, training, optimizer)`` walks one steady-state training step (the optimizer's
state already made by the steps before) as PyTorch runs it on the CPU, and records, after each
event, the bytes alive in the categories of PyTorch's ``MemTracker``
(``torch.distributed._tools.mem_tracker``), checked against it by
benchmarks/measure_step_peak.py (tests/test_step.py):

- **parameters**, **buffers** (batchnorm's running statistics and its ``num_batches_tracked``,
  an int64 counter; a frozen layer's weights): alive the whole step;
- **optimizer state**: sgd none, momentum one buffer per trained parameter, adam and adamw
  ``exp_avg`` and ``exp_avg_sq`` and a ``step`` (a float32 scalar tensor) per weight and per
  bias tensor; Adam's step also makes ``exp_avg_sq.sqrt()`` and its quotient, two tensors the
  size of the parameter it is updating, which MemTracker files as optimizer state too;
- **input**: the batch and its labels (int64, one per output position): MemTracker's "Other"
  when handed to ``track_external``, as a data loader's tensors are;
- **activations**: what the forward pass makes; the tensors autograd saves (training.py, the
  single source of those bytes) live until backward passes the first layer that saved them,
  the others until their last reader has run; batchnorm's running statistics, which autograd
  saves too, are buffers; the loss (cross-entropy: log-softmax, whose output it saves, and the
  negative log-likelihood: the loss and its total weight, two scalars);
- **temporaries**: what backward makes besides weight gradients: the gradient of each tensor,
  alive from the first layer whose backward contributes to it until the backward of the layer
  that made it has run. A layer's backward holds the gradient of its output while it makes the
  gradient of its input; an add passes its output's gradient on to both inputs, a concat and a
  view pass views of it: nothing new; a second contribution to a tensor's gradient is added out
  of place (the sum made while both parts are alive, then they are freed), as MemTracker sees
  the autograd engine do; self-attention's backward has moments of its own (out_proj's, the
  flash kernel's, Q, K and V gathered into the packed projection's gradient, in_proj's);
- **gradients**: a trained layer's weight gradients, made when its backward runs, kept until
  ``zero_grad()`` sets them to None at the end of the step (while its backward runs, the weight
  gradients are still the op's outputs, temporaries, as MemTracker files them). Frozen layers
  have none.

MemTracker files a tensor by when it is made, not by what it is: made in forward (the loss
too), an activation; made in backward, a temporary, until a parameter's gradient hook claims it
as a gradient; made inside ``optimizer.step()``, optimizer state (Adam's per-tensor temporaries
too); handed to ``track_external``, "Other" (here the input). The walk files them the same way.

Under activation checkpointing (``segments``; analysis/checkpoint.py chooses them and states
torch.utils.checkpoint's rules) the forward saves nothing inside a segment but keeps its input,
and backward re-runs the segment's forward first (phase "recompute", its tensors activations,
as MemTracker files them): measured to the byte on ResNet-50, VGG-16 and ViT-B/16
(tests/test_checkpoint.py).

Each event records the moment inside it when the most is alive (a layer's output made, its
inputs not yet freed; a backward's new gradients made, its output's gradient and its saved
tensors not yet freed). Every tensor at the dtype and batch of the Report. Not modelled (zero in
MemTracker too): the kernels' workspaces, the allocator's rounding and caching, the CUDA
context: the plan's headroom stands for them.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from ..layers import (
    Add,
    Attention,
    BatchNorm,
    ClassToken,
    Concat,
    Flatten,
    GroupNorm,
    LayerNorm,
    Permute,
    PositionEmbedding,
    Reshape,
    Tokens,
)
from ..values import replace
from .plan_result import STEP_CATEGORIES, Fit, Step, StepEvent, Training
from .result import LayerReport, Report
from .training import INDEX_BYTES, is_view, training

Segments = Tuple[Tuple[int, int], ...]  # checkpointed runs of layers: (first, last) Report indices

PARAMETERS, BUFFERS, GRADIENTS, OPTIMIZER_STATE, ACTIVATIONS, TEMPORARIES, INPUT = range(len(STEP_CATEGORIES))
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")  # what the step knows the state of
LABEL_BYTES = 8  # int64 class labels
STEP_BYTES = 4  # Adam's per-parameter step counter: a float32 scalar tensor on the CPU
COUNTER_BYTES = 8  # batchnorm's num_batches_tracked: an int64 scalar


def step(report: Report, training: Training, optimizer: str = "sgd", segments: Segments = (),
         rng_state_bytes: int = 0) -> Step:
    """One steady-state training step's memory, event by event, and its peak.

    ``segments``: the checkpointed runs of layers (first, last), in order and disjoint, and
    ``training`` counted with each as its own scope (analysis/checkpoint.py says how
    torch.utils.checkpoint runs them: the forward saves nothing inside a segment but keeps its
    input and ``rng_state_bytes``; backward re-runs the segment, phase "recompute", first)."""
    walk = _Walk(report, training, optimizer)
    walk.segments = tuple(segments)
    walk.rng_state_bytes = rng_state_bytes
    walk.start()
    walk.forward()
    walk.loss()
    if walk.trains:  # with nothing to train there is no backward (PyTorch refuses it) and no step
        walk.backward()
        walk.optimizer_step()
    peak = max(range(len(walk.events)), key=lambda i: walk.events[i].total)
    return Step(optimizer, report.batch, tuple(walk.events), peak, training.complete, walk.trains)


class _Walk:
    """The live bytes by category as the step goes, the events recorded, and what the phases
    hand on: which storages autograd keeps, what each layer saves of its own making."""

    def __init__(self, report: Report, training: Training, optimizer: str) -> None:
        self.report, self.rows, self.optimizer = report, training.layers, optimizer
        self.now = [0] * len(STEP_CATEGORIES)
        self.events: List[StepEvent] = []
        shapes = [report.spec.input] + [r.output for r in report.layers]
        if training.element_bytes:  # each tensor at its own dtype (autocast's mix)
            self.sizes = [shape.elements * report.batch * size for shape, size in zip(shapes, training.element_bytes)]
        else:
            self.sizes = [report.activation_bytes(shape.elements) for shape in shapes]
        self.trains = any(r.params for r in report.layers)
        self.out = report.outputs[-1].tensor if report.outputs else len(report.layers)
        self.loss_at = len(report.layers) + 1  # the loss's place in the timeline: after the last layer
        self.scalar = report.bytes_per_element  # the loss, a scalar, and its gradient
        self.own: Dict[int, int] = {}  # per layer: the bytes it saves of its own making (indices, masks, statistics)
        self.alive: Dict[int, int] = {}  # forward storages nobody keeps, alive until their last reader has run
        self.freed_after: Dict[int, List[int]] = {}  # forward: what nobody keeps, freed after its last reader
        self.segments: Segments = ()  # checkpointed runs of layers
        self.rng_state_bytes = 0  # what checkpoint stashes of the RNG state per segment
        self.segment_of: Dict[int, Tuple[int, int]] = {}  # a checkpointed layer -> its segment
        self.released: Dict[int, List[int]] = {}  # backward: layer -> the kept storages freed once it has run
        self.storage: Dict[int, int] = {0: 0, **{t.index: t.storage for t in training.layers}}

    def size(self, tensor: int) -> int:
        """A tensor's bytes at the batch (0 the input, k layer k's output), each worked out once."""
        return self.sizes[tensor]

    def record(self, phase: str, layer: int, extra: Optional[Dict[int, int]] = None) -> None:
        moment = list(self.now)
        for category, n in (extra or {}).items():
            moment[category] += n
        self.events.append(StepEvent(phase, layer, tuple(moment)))

    def start(self) -> None:
        """What lives the whole step: weights, buffers, the optimizer's state, the batch and labels."""
        report = self.report
        params = report.param_bytes(report.totals.params)
        self.now[PARAMETERS] = params
        counters = sum(1 for r in report.layers if isinstance(r.layer, BatchNorm))
        self.now[BUFFERS] = sum(buffer_bytes(report, r) for r in report.layers) + COUNTER_BYTES * counters
        steps = STEP_BYTES * sum(len(parameter_tensors(r)) for r in report.layers)
        self.now[OPTIMIZER_STATE] = {"sgd": 0, "momentum": params, "adam": 2 * params + steps,
                                     "adamw": 2 * params + steps}[self.optimizer]
        out_shape = report.shape_of(self.out)
        labels = LABEL_BYTES * report.batch * (out_shape.elements // max(out_shape.channels, 1))
        self.now[INPUT] = self.size(0) + labels
        self.record("start", 0)

    def forward(self) -> None:
        """Each layer's output made (a view or an in-place layer makes none) and what it saves of
        its own; what nobody keeps freed after its last reader."""
        report, rows, storage = self.report, self.rows, self.storage
        self.segment_of = {i: seg for seg in self.segments for i in range(seg[0], seg[1] + 1)}
        kept_by: Dict[int, int] = {}  # storage -> the layer whose backward frees it (the first that keeps it)
        for t in rows:
            for s in t.kept:
                if t.index not in self.segment_of:  # inside a segment the forward saves nothing
                    kept_by.setdefault(s, t.index)
        for first, last in self.segments:  # checkpoint keeps each segment's input until its backward is done
            for r in report.layers[first - 1:last]:
                for s in r.sources:
                    if s < first:
                        kept_by[storage[s]] = min(kept_by.get(storage[s], first), first)
        for s, k in kept_by.items():
            self.released.setdefault(k, []).append(s)
        last_read: Dict[int, int] = {}  # storage -> its last reader (a view's readers keep what it views)
        for r in report.layers:
            for s in r.sources:
                last_read[storage[s]] = max(last_read.get(storage[s], 0), r.index)
        for o in report.outputs or ():
            last_read[storage[o.tensor]] = self.loss_at  # every output is read by the loss (on the last one)
        last_read[storage[self.out]] = self.loss_at
        for s, k in last_read.items():
            if s not in kept_by and s:
                self.freed_after.setdefault(k, []).append(s)
        for r, t in zip(report.layers, rows):
            # what autograd saves that is a buffer: batchnorm's running statistics, the relative
            # position index of window attention
            running = buffer_bytes(report, r) if isinstance(r.layer, (BatchNorm, Attention)) and t.recorded else 0
            self.own[r.index] = t.saved_bytes - sum(self.size(s) for s in t.kept) - running
            segment = self.segment_of.get(r.index)
            if segment and r.index == segment[0]:
                self.now[ACTIVATIONS] += self.rng_state_bytes  # stashed with the inputs
            if report.conventions.inplace and getattr(r.layer, "inplace", False) and r.sources:
                self.free(storage[r.sources[0]])  # overwritten, not copied
            if t.storage == r.index:
                made = self.size(r.index)
                self.now[ACTIVATIONS] += made
                if r.index not in kept_by:
                    self.alive[r.index] = made
                    if r.index not in last_read:  # never read: freed once made
                        self.freed_after.setdefault(r.index, []).append(r.index)
            if not segment:
                self.now[ACTIVATIONS] += self.own[r.index]
            self.record("forward", r.index)
            for s in self.freed_after.get(r.index, []):
                self.free(s)

    def loss(self) -> None:
        """Cross-entropy: log-softmax (its output saved) and the negative log-likelihood (a scalar
        loss and its total weight, saved)."""
        self.now[ACTIVATIONS] += self.size(self.out) + 2 * self.scalar
        self.record("loss", self.loss_at)
        for s in self.freed_after.get(self.loss_at, []):
            self.free(s)

    def backward(self) -> None:
        """The loss's gradient, the log-softmax's, then each layer in reverse: its inputs'
        gradients made, its output's freed, what it saved freed."""
        report, rows, log_softmax = self.report, self.rows, self.size(self.out)
        self.record("backward", self.loss_at, {TEMPORARIES: self.scalar + log_softmax})
        self.record("backward", self.loss_at, {TEMPORARIES: 2 * log_softmax})
        self.now[ACTIVATIONS] -= log_softmax
        grads = _Gradients(self)
        grads.give(self.out, grads.hold(grads.new(log_softmax)))
        for r, t in zip(reversed(report.layers), reversed(rows)):
            segment = self.segment_of.get(r.index)
            if segment and r.index == segment[1]:
                self.recompute(*segment)
            g = grads.take(r.index)
            if t.recorded and g is not None:
                given: List[Tuple[int, int]] = []  # (input, the gradient this backward gives it)
                for s in r.sources:
                    if not (s and rows[s - 1].recorded):
                        continue  # the network's input, and what nothing trained feeds, need no gradient
                    given.append((s, grads.hold(g if passes_gradient(r) else grads.new(self.size(s)))))
                # a parameter's gradient is the backward op's output until AccumulateGrad makes it
                # .grad: MemTracker sees it as a temporary until then
                params = report.param_bytes(r.params)
                inside, done = self.attention_backward(r) if isinstance(r.layer, Attention) and not r.layer.window \
                    else (0, 0)
                self.now[GRADIENTS] += params - done
                as_temporary = {TEMPORARIES: params - done, GRADIENTS: done - params}
                self.record("backward", r.index, {**as_temporary, TEMPORARIES: params - done + inside})
                grads.release(g)  # the op is done with its output's gradient
                for s, contribution in given:
                    if grads.give(s, contribution):  # a second contribution: their sum, a new tensor
                        self.record("backward", r.index, as_temporary)
                        grads.settle()
            elif g is not None:
                grads.release(g)
            self.now[ACTIVATIONS] -= self.own[r.index] + sum(self.size(s) for s in self.released.get(r.index, ()) if s)
            if segment and r.index == segment[0]:
                self.now[ACTIVATIONS] -= self.rng_state_bytes  # the segment's frame, freed with its graph
        self.now[ACTIVATIONS] -= self.scalar  # the total weight, freed with the graph
        self.record("backward", 0)

    def recompute(self, first: int, last: int) -> None:
        """torch.utils.checkpoint's recomputation (use_reentrant=False), when backward first needs
        a tensor the segment saved: its forward again from the kept input, each layer saving what
        it saves in a plain forward (tensors of its own: new ones, filed as activations, as
        MemTracker sees them made inside the modules' forward), what nobody saves freed after its
        last reader; it stops early, after the last layer that saves anything (the layers after
        it are not re-run). The saved tensors are then freed as backward passes them. A residual
        add whose first input nothing else needs runs in place, as torchvision's blocks write it
        (``out += identity``): the recomputation's peak can fall there (the plain forward's
        moments never hold a step's peak, so the walk does not model it there)."""
        rows, storage = self.rows[first - 1:last], self.storage
        saved = {s for t in rows for s in t.kept if s >= first}
        savers = [t.index for t in rows if self.own[t.index] or any(s >= first for s in t.kept)]
        if not savers:
            return  # nothing to unpack: the segment is never re-run
        stop = savers[-1]
        last_read: Dict[int, int] = {}
        for r in self.report.layers[first - 1:stop]:
            for s in r.sources:
                if storage[s] >= first:
                    last_read[storage[s]] = r.index
        transient: Dict[int, int] = {}
        for r, t in zip(self.report.layers[first - 1:stop], rows):
            into = storage[r.sources[0]] if r.sources else -1
            in_place = self.report.conventions.inplace and getattr(r.layer, "inplace", False)
            if into in transient and (in_place or isinstance(r.layer, Add) and last_read[into] == r.index
                                      and self.size(into) == self.size(r.index)):
                # overwritten, as the plain forward does in place; and a block's ``out += identity``
                # (torchvision's): the sum overwrites its first input, which nothing saved and
                # nothing else reads: no new tensor
                self.now[ACTIVATIONS] -= transient.pop(into)
            if t.storage == t.index:
                self.now[ACTIVATIONS] += self.size(t.index)
                if t.index not in saved:
                    transient[t.index] = self.size(t.index)
            self.now[ACTIVATIONS] += self.own[t.index]
            self.record("recompute", t.index)
            for s in [s for s in transient if last_read.get(s, 0) <= t.index]:
                self.now[ACTIVATIONS] -= transient.pop(s)
        for t in rows:
            for s in t.kept:
                if s >= first:
                    self.released.setdefault(t.index, []).append(s)

    def attention_backward(self, r: LayerReport) -> Tuple[int, int]:
        """The moments inside self-attention's backward (nn.MultiheadAttention, the CPU flash
        kernel), before its in_proj's: out_proj's (the heads' output gradient and its weight
        gradients made), the kernel's (Q, K and V's gradients), the three gathered into the packed
        projection's gradient (select_backward and adds: 10·L·C at most, measured); then what the
        kernel saved is freed. Returns the packed gradient (3·L·C), alive during in_proj's
        backward, and out_proj's gradients, made already."""
        c = r.input.channels
        tokens = self.size(r.sources[0])  # L·C at the batch, in bytes
        out_proj = self.report.param_bytes(c * c + c) if r.params else 0
        self.now[GRADIENTS] += out_proj
        self.record("backward", r.index, {TEMPORARIES: tokens + out_proj, GRADIENTS: -out_proj})
        self.record("backward", r.index, {TEMPORARIES: tokens + 3 * tokens})
        self.record("backward", r.index, {TEMPORARIES: 10 * tokens})
        self.now[ACTIVATIONS] -= self.own[r.index]  # Q, K, V, the heads' output, the logsumexp
        self.own[r.index] = 0
        return 3 * tokens, out_proj

    def optimizer_step(self) -> None:
        """The optimizer's step, one parameter tensor at a time; then zero_grad() sets grads to None.
        Adam's loop: denom = exp_avg_sq.sqrt() / c; the previous tensor's denom lives until the
        name is bound again, after the division."""
        shapes = [n for r in self.report.layers for n in parameter_tensors(r)]
        largest = max((before + 2 * n for before, n in zip([0] + shapes, shapes)), default=0)
        working = self.report.param_bytes(largest) if self.optimizer in ("adam", "adamw") else 0
        self.record("optimizer", 0, {OPTIMIZER_STATE: working})
        self.now[GRADIENTS] = 0
        self.record("zero_grad", 0)

    def free(self, s: int) -> None:
        """A forward storage nobody keeps, freed (once)."""
        self.now[ACTIVATIONS] -= self.alive.pop(s, 0)


class _Gradients:
    """The gradients backward holds: each a storage, shared by the tensors whose gradient it is."""

    def __init__(self, walk: _Walk) -> None:
        self.walk = walk
        self.bytes: Dict[int, int] = {}
        self.refs: Dict[int, int] = {}
        self.of: Dict[int, int] = {}  # tensor -> its gradient's storage
        self.next = 0
        self.pending: Tuple[int, ...] = ()  # the two gradients a sum was just made of

    def new(self, size: int) -> int:
        self.next += 1
        self.bytes[self.next], self.refs[self.next] = size, 0
        self.walk.now[TEMPORARIES] += size
        return self.next

    def hold(self, g: int) -> int:
        self.refs[g] += 1
        return g

    def release(self, g: int) -> None:
        """One holder lets go of ``g``; freed when nobody holds it."""
        self.refs[g] -= 1
        if self.refs[g] <= 0:
            self.walk.now[TEMPORARIES] -= self.bytes.pop(g)
            del self.refs[g]

    def give(self, tensor: int, g: int) -> bool:
        """Hand ``g`` (held) to ``tensor``'s gradient. The first contribution becomes it; a second
        is added out of place, as the autograd engine's input buffer does under MemTracker: the sum
        is made while both are alive (True: ``settle`` frees them once the moment is recorded)."""
        held = self.of.get(tensor)
        if held is None:
            self.of[tensor] = g
            return False
        self.of[tensor] = self.hold(self.new(self.bytes[held]))
        self.pending = (held, g)
        return True

    def settle(self) -> None:
        """Free the two parts of the sum just made."""
        for g in self.pending:
            self.release(g)
        self.pending = ()

    def take(self, tensor: int) -> Optional[int]:
        return self.of.pop(tensor, None)


def buffer_bytes(report: Report, r: LayerReport) -> int:
    """A layer's buffers in bytes: at the dtype, but window attention's relative position index,
    which is int64."""
    if isinstance(r.layer, Attention) and r.layer.window and r.layer.relative_bias:
        return r.buffers * INDEX_BYTES
    return report.param_bytes(r.buffers)


def parameter_tensors(r: LayerReport) -> List[int]:
    """The elements of each parameter tensor a layer trains, in PyTorch's order: weight, then bias
    (a norm's γ and β; attention's relative position bias table, its qkv weight and bias, then
    its output projection's)."""
    if not r.params:
        return []
    if isinstance(r.layer, (BatchNorm, LayerNorm, GroupNorm)):
        return [r.params // 2, r.params // 2]
    if isinstance(r.layer, Attention):
        c = r.input.channels
        table = r.params - (4 * c * c + 4 * c)  # window attention's relative position bias table, first
        if table >= 0:
            return ([table] if table else []) + [3 * c * c, 3 * c, c * c, c]
    return [n for n in (r.params - r.biases, r.biases) if n]


def passes_gradient(r: LayerReport) -> bool:
    """Whether a layer's backward hands its output's gradient (or views of it) to its inputs,
    making nothing: an add, a concat (slices), a view (flatten, tokens, permute, reshape), an
    identity, the class token's concat and the position embedding's add."""
    if isinstance(r.layer, (Add, Concat, ClassToken, PositionEmbedding, Flatten, Tokens, Permute, Reshape)):
        return True
    return is_view(r) and not isinstance(r.layer, Attention) and r.layer.kind not in ("chunk", "split", "crop",
                                                                                     "select")


def step_at(report: Report, batch: int, optimizer: str, backend: str = "cuda", amp: Optional[str] = None,
            flash: bool = True) -> Step:
    """The step of ``report``'s network at another batch, by ``backend``'s rules under ``amp``. The
    engine's figures are per sample and only bytes scale with the batch, so the Report is the same
    analysis with its batch changed (its memory's training figure is not this step's: only the
    step is returned)."""
    at = report if batch == report.batch else replace(report, batch=batch)
    return step(at, training(at, backend=backend, amp=amp, flash=flash), optimizer)


def largest_batch(evaluate: Callable[[int], Step], memory_bytes: int, headroom_bytes: int,
                  device: str = "", limit: int = 10**9) -> Fit:
    """The largest batch whose step peaks within ``memory_bytes - headroom_bytes``.

    Every event's bytes are affine in the batch (per-sample tensors and constant ones: weights,
    their state, per-channel statistics), so the peak is the largest of affine functions: each
    event's line comes from the steps at batch 2 and 3, the answer is where the first of them
    crosses the budget, and the steps at the answer and one past it confirm it (a rule that is
    not affine at batch 1, Swin's one window, is caught there and stepped past). Four steps, no
    search over batch sizes.
    """
    usable = memory_bytes - headroom_bytes
    steps: Dict[int, Step] = {}

    def evaluate_once(n: int) -> Step:
        if n not in steps:
            steps[n] = evaluate(n)
        return steps[n]

    two, three = evaluate_once(2), evaluate_once(3)
    answer, binding = limit, 0
    for a, b in zip(two.events, three.events):
        slope = b.total - a.total
        base = a.total - 2 * slope
        fits = limit if slope <= 0 and base <= usable else (usable - base) // slope if slope > 0 else -1
        if fits < answer:
            answer, binding = max(fits, -1), slope
    answer = max(0, min(answer, limit))
    for _ in range(3):  # confirm: the answer fits and one more does not
        if answer and evaluate_once(answer).peak_bytes > usable:
            answer -= 1
        elif answer < limit and evaluate_once(answer + 1).peak_bytes <= usable:
            answer += 1
        else:
            break
    at = evaluate_once(max(answer, 1))
    over = evaluate_once(answer + 1).peak_bytes if answer < limit else at.peak_bytes
    return Fit(memory_bytes, headroom_bytes, answer, at, over, binding, device)
