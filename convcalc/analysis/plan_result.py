"""What a training plan gives (``convcalc plan``): the tensors each layer keeps for backward
(training.py), the step's memory moment by moment and its peak (step.py), the largest batch that
fits (step.py), and the roofline's lower bound on the step's time (roofline.py), with the
conventions every renderer states. Plain frozen values beside result.py's Report: a renderer
imports these two modules and nothing else of the analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple

from ..values import value

if TYPE_CHECKING:  # the roofline's exact times; fractions loads only when a roofline is made
    from fractions import Fraction


# --- training (training.py computes it) -----------------------------------------------------

SAVED_ROLES = ("inputs", "outputs", "indices", "masks", "statistics", "weight copies")
"""What a layer saves for backward, by role: the tensors it read (under autocast, the copies it
cast them to), the tensor it made, max-pool's int64 indices, dropout's mask, batchnorm's
per-channel statistics, and under autocast the half-precision copies of its weights (the
float32 weights themselves are parameters, never counted)."""


@value
class LayerTraining:
    """One layer's share of a training step: the bytes it saves for backward, first saved here.

    ``saved``: bytes per role of ``SAVED_ROLES``, at the dtype and batch (indices at 8 bytes),
    each tensor counted at the first layer that saves it; ``supported``: whether convcalc has
    this kind's rule (when not, its bytes are 0 and the totals are incomplete). MACs per sample:
    ``backward_macs`` = ``grad_input_macs`` + ``grad_weight_macs``. ``kept``: the activation
    tensors (Report indices, 0 the input) first saved here, whose bytes are among ``saved``;
    ``storage``: the tensor whose storage this layer's output is (itself, or what it views);
    ``recorded``: whether autograd records the layer (it trains weights, or an input needs a gradient).
    """

    index: int
    saved: Tuple[int, ...]  # bytes per role, in the order of SAVED_ROLES
    forward_macs: int
    grad_input_macs: int
    grad_weight_macs: int
    supported: bool = True
    kept: Tuple[int, ...] = ()
    storage: int = 0
    recorded: bool = True

    @property
    def saved_bytes(self) -> int:
        return sum(self.saved)

    @property
    def backward_macs(self) -> int:
        return self.grad_input_macs + self.grad_weight_macs


@value
class Training:
    """What one training step keeps and costs, by PyTorch's rules on ``backend`` ("cuda" or "cpu"),
    for ``Report``'s batch and dtype, under autocast at ``amp`` ("fp16", "bf16") or without (None).

    ``unsupported``: each layer kind without a saved-tensor rule and how often it occurs; when
    there is any, ``saved_bytes`` leaves those layers out and is incomplete.
    """

    layers: Tuple[LayerTraining, ...]
    backend: str = "cpu"
    unsupported: Tuple[Tuple[str, int], ...] = ()
    amp: Optional[str] = None
    flash: bool = True  # on CUDA, whether the GPU runs flash attention (sm80+); False: mem-efficient
    # bytes per element of each tensor (0 the input, k layer k's output; a view its storage's):
    # the report's dtype, or under autocast each op's (half precision for conv, fc, attention ...)
    element_bytes: Tuple[int, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.unsupported

    @property
    def saved_bytes(self) -> int:
        return sum(t.saved_bytes for t in self.layers)

    def saved_by_role(self) -> Dict[str, int]:
        return {role: sum(t.saved[i] for t in self.layers) for i, role in enumerate(SAVED_ROLES)}

    @property
    def forward_macs(self) -> int:
        return sum(t.forward_macs for t in self.layers)

    @property
    def backward_macs(self) -> int:
        return sum(t.backward_macs for t in self.layers)


STEP_CATEGORIES = ("parameters", "buffers", "gradients", "optimizer_state", "activations", "temporaries", "input")
"""The categories of a training step's memory: MemTracker's (its "Other" is the input batch and labels)."""


@value
class StepEvent:
    """One moment of a training step (analysis/step.py): the bytes alive by category.

    ``phase``: start, forward, loss, backward, optimizer, zero_grad, and under activation
    checkpointing recompute (a segment's forward re-run inside backward); ``layer``: the Report
    index of the layer running (0: none; one past the last layer: the loss). The bytes are
    those of the moment inside the event when the most is alive, in ``STEP_CATEGORIES`` order.
    """

    phase: str
    layer: int
    bytes: Tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.bytes)

    def breakdown(self) -> Dict[str, int]:
        return dict(zip(STEP_CATEGORIES, self.bytes))


@value
class Step:
    """The memory of one steady-state training step: every event, and which is the peak.

    ``complete``: False when some layer kind has no saved-tensor rule (its bytes are missing);
    ``trains``: False when no layer has parameters to train (then there is no backward and no
    optimizer step: PyTorch refuses ``backward()`` on a loss nothing trained made).
    """

    optimizer: str
    batch: int
    events: Tuple[StepEvent, ...]
    peak_index: int
    complete: bool = True
    trains: bool = True

    @property
    def peak(self) -> StepEvent:
        return self.events[self.peak_index]

    @property
    def peak_bytes(self) -> int:
        return self.peak.total


@value
class Fit:
    """The largest batch whose step peak fits ``memory_bytes`` less ``headroom_bytes``.

    ``batch`` 0: not even one sample fits. ``peak``: the step at that batch (at batch 1 when
    none fits); ``over``: the peak one sample more would need; ``per_sample``: how much the
    binding moment grows with each sample.
    """

    memory_bytes: int
    headroom_bytes: int
    batch: int
    peak: Step
    over: int
    per_sample: int
    device: str = ""

    @property
    def usable_bytes(self) -> int:
        return self.memory_bytes - self.headroom_bytes


@value
class Checkpoint:
    """A step under activation checkpointing (analysis/checkpoint.py), beside the plain one.

    ``mode``: blocks, sqrt or every:K; ``segments``: the checkpointed runs of layers (first,
    last); ``step``: the step with them checkpointed (its timeline has "recompute" events);
    ``plain_peak``: the plain step's peak bytes; ``extra_forward_macs``: the recomputed layers'
    forward MACs per sample; ``step_macs``: the plain step's forward + backward MACs per sample;
    ``rng_state_bytes``: the RNG state each segment stashes (host memory, not in the peak);
    ``fit``: the largest batch that fits under checkpointing, when a memory size was given.
    """

    mode: str
    segments: Tuple[Tuple[int, int], ...]
    step: Step
    plain_peak: int
    extra_forward_macs: int
    step_macs: int
    rng_state_bytes: int = 0
    fit: Optional[Fit] = None

    @property
    def peak_bytes(self) -> int:
        return self.step.peak_bytes

    @property
    def saved_bytes(self) -> int:
        """What checkpointing saves at the peak (negative: it costs)."""
        return self.plain_peak - self.peak_bytes


CHECKPOINT_CONVENTION = (
    "torch.utils.checkpoint(use_reentrant=False, preserve_rng_state=True, early_stop on), as PyTorch recommends: "
    "inside a segment the forward saves nothing but keeps the segment's input (alive until the segment's backward "
    "is done) and the RNG state (the CPU generator's 5,056 B, plus 16 B of CUDA's on --backend cuda) for dropout; "
    "backward re-runs the segment's forward up to the last layer that saves anything, its saved tensors alive "
    "only during that segment's backward; blocks = each block of the innermost run of named blocks, every:K = "
    "runs of K items of the network's chain (each repeated block, else top-level block, else layer), sqrt = checkpoint_sequential's isqrt(n) segments; as checkpoint_sequential, the "
    "last run of every:K and sqrt is left unchecked; extra MACs are the re-run layers' forward MACs")


TRAINING_CONVENTIONS: Dict[str, str] = {
    "saved_activation_bytes": "tensors autograd saves for backward in one training step, by PyTorch's rules on the "
                              "backend (torch 2.14, train mode; see 'backend'), each counted once at the first layer "
                              "that saves it, at the dtype and batch (max-pool indices int64, 8 bytes; per-channel "
                              "statistics such as batchnorm's 4 vectors once, not per sample); parameters not counted",
    "forward_macs": "the forward pass's MACs per sample, as the table counts them",
    "backward_macs": "grad-input + grad-weight per sample, each the forward's MACs for conv, fc, attention and matmul; "
                     "no grad-input where the input needs no gradient (nothing trained before it), "
                     "no grad-weight for frozen layers",
}


# --- roofline (roofline.py computes it) -----------------------------------------------------

@value
class PassBound:
    """One pass (forward or backward) of one layer, for a whole step of the batch, on one device.

    ``flops``: 2 × its MACs × batch; ``bytes``: the least it must move to and from the device's
    memory (roofline.py states what that is); ``seconds``: no less than the larger of
    flops / peak and bytes / bandwidth, exact; ``bound``: which of the two is larger, "compute"
    or "memory" ("" when the pass moves and computes nothing: a view, a pass that does not run).
    """

    flops: int
    bytes: int
    seconds: Fraction
    bound: str

    @property
    def intensity(self) -> Optional[Fraction]:
        """Arithmetic intensity, FLOPs per byte moved; None when nothing moves."""
        from fractions import Fraction

        return Fraction(self.flops, self.bytes) if self.bytes else None


@value
class LayerRoofline:
    """One layer's forward and backward bounds; ``bound`` and ``intensity`` of the two together."""

    index: int
    forward: PassBound
    backward: PassBound
    bound: str  # "compute" when its FLOPs take longer at peak than its bytes at full bandwidth

    @property
    def flops(self) -> int:
        return self.forward.flops + self.backward.flops

    @property
    def bytes(self) -> int:
        return self.forward.bytes + self.backward.bytes

    @property
    def seconds(self) -> Fraction:
        return self.forward.seconds + self.backward.seconds

    @property
    def intensity(self) -> Optional[Fraction]:
        from fractions import Fraction

        return Fraction(self.flops, self.bytes) if self.bytes else None


@value
class Roofline:
    """A lower bound on the time of one training step on ``device`` at ``precision``: never a
    prediction. ``missing`` names why there is none (the device's datasheet figures are not in
    the table, or it has no peak at this precision); then ``layers`` is empty."""

    device: str
    precision: str  # "fp32", "tf32", "fp16", "bf16": whose peak bounds the FLOPs
    peak_flops: int  # FLOP/s, datasheet
    bandwidth: int  # bytes/s, datasheet
    source: str
    batch: int
    layers: Tuple[LayerRoofline, ...] = ()
    optimizer: str = "sgd"
    optimizer_bytes: int = 0  # the optimizer step's least traffic (memory-bound)
    missing: str = ""

    @property
    def ridge(self) -> Fraction:
        """FLOPs per byte above which a pass is compute-bound on this device."""
        from fractions import Fraction

        return Fraction(self.peak_flops, self.bandwidth) if self.bandwidth else Fraction(0)

    @property
    def optimizer_seconds(self) -> Fraction:
        from fractions import Fraction

        return Fraction(self.optimizer_bytes, self.bandwidth) if self.bandwidth else Fraction(0)

    @property
    def step_seconds(self) -> Fraction:
        """No step is faster than this: Σ per layer and pass max(FLOPs/peak, bytes/bandwidth) + the optimizer's."""
        return sum((r.seconds for r in self.layers), self.optimizer_seconds)

    @property
    def images_per_second(self) -> Optional[Fraction]:
        """No more than this many samples a second: batch / the step's lower bound."""
        step = self.step_seconds
        return self.batch / step if step else None

    @property
    def flops(self) -> int:
        return sum(r.flops for r in self.layers)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.layers) + self.optimizer_bytes

    @property
    def intensity(self) -> Optional[Fraction]:
        from fractions import Fraction

        return Fraction(self.flops, self.bytes) if self.bytes else None


ROOFLINE_CONVENTIONS: Dict[str, str] = {
    "step_time_lower_bound_s": "a lower bound, never a prediction: the sum over layers, forward and backward, of "
                               "max(FLOPs / peak FLOP/s, bytes / bandwidth), plus the optimizer step's bytes / "
                               "bandwidth; layers one after another (one CUDA stream, as eager PyTorch runs them), "
                               "each moving at least what it must; datasheet peaks no kernel reaches; a float "
                               "rounded to the nearest double (exact as a fraction p/q in the _exact field)",
    "flops": "2 x MACs x batch (conv, fc, attention, matmul; forward, and backward's grad-input + grad-weight); "
             "element-wise layers count none, so they bound by their bytes",
    "bytes": "the least a layer must move through device memory, at --dtype: forward reads its inputs, weights and "
             "buffers and writes its output and the tensors it makes to save (max-pool indices, dropout masks, "
             "attention's Q, K, V ...); backward reads the gradient of its output, the tensors it saved (not "
             "pooling's input, whose backward needs only its shape) and its weights (when it computes a gradient "
             "for its input), and writes the gradient of each input that needs one and of its weights; views, "
             "add and concat move nothing backward (their gradients pass through or are views); gradients summed "
             "where a tensor fans out, the loss and caches are left out: each omission only lowers the bound",
    "precision": "float32 -> TF32 tensor cores where the device has them (PyTorch lets cuDNN convolutions use "
                 "TF32 by default), else FP32; float16 -> FP16 tensor cores, bfloat16 -> BF16 tensor cores, "
                 "dense (a datasheet's sparsity figures halved); float64 has no figure here",
    "optimizer": "the step's least traffic: SGD reads each trained parameter and its gradient and writes the "
                 "parameter (3 x params x dtype bytes); momentum adds a buffer read and written (5), Adam and "
                 "AdamW two (7)",
    "images_per_s_upper_bound": "batch / step_time_lower_bound_s: no device of these figures trains faster",
}


BACKEND_CONVENTIONS: Dict[str, str] = {
    "cuda": "PyTorch's CUDA rules (the default), from its source and fake CUDA tensors, where they differ from "
            "the CPU's: dropout keeps a bool mask (native_dropout, 1 byte an element); batchnorm's batch mean and "
            "1/std and layer norm's mean and 1/std are in the accumulation type (float32 for float16/bfloat16); "
            "cuDNN batchnorm's reserve space is not counted (its size is cuDNN's, known only on a GPU); attention "
            "runs the kernel sdp_utils picks on an sm80+ GPU: mem-efficient at float32 (logsumexp padded to 32 "
            "tokens a head; its batch-first output copied for out_proj at a batch over 1), flash at float16/"
            "bfloat16 (as the CPU's, plus its 24-byte rng state on the GPU; mem-efficient's seed and offset are CPU "
            "scalars, not counted); at float64 (the math kernel) no rule",
    "cpu": "PyTorch's CPU rules, measured exactly against torchvision's models: dropout keeps a mask of the input's "
           "dtype; attention runs the CPU flash kernel",
}

AMP_CONVENTION = ("torch.autocast over a float32 model (parameters and their gradients stay float32, not counted): "
                  "conv, fc, attention and PReLU run in half precision and save a half-precision copy of a float32 "
                  "input and of their weight (autocast's cached copy, role 'weight copies'; fc's only where its "
                  "input needs a gradient); on CUDA layer and group norm run in float32 (a float32 copy of a "
                  "half-precision input) and softmax outputs float32; every other op takes its input's dtype, "
                  "the widest of several (a float32 parameter or buffer counts: class token, position embedding, "
                  "layer scale, frozen batchnorm); statistics float32; LRN's normalisers float32 (and its x² on the CPU); "
                  "window attention's weights after softmax float32 (the float32 bias promotes them) plus the "
                  "half-precision copy the matmul with v saves")


NO_FLASH = ("a GPU without flash attention (before sm80: V100, T4): mem-efficient attention at half precision "
            "too (logsumexp padded to 32 tokens, output copied at a batch over 1, no rng state)")


def training_conventions(backend: str, amp: Optional[str], flash: bool = True) -> Dict[str, str]:
    """The conventions of a ``Training`` on ``backend`` under ``amp``, for every renderer to state."""
    stated = dict(TRAINING_CONVENTIONS, backend=BACKEND_CONVENTIONS[backend] + ("" if flash else "; " + NO_FLASH))
    if amp is not None:
        stated["amp"] = f"{amp}: {AMP_CONVENTION}"
    return stated


STEP_CONVENTIONS: Dict[str, str] = {
    "peak_bytes": "the most memory alive at once in one steady-state training step (the optimizer's state made by "
                  "the steps before): forward, cross-entropy loss, backward, optimizer step, zero_grad (grads set "
                  "to None); by the backend's saved-tensor rules (CUDA's by default), in the categories of PyTorch's "
                  "MemTracker (equal to it on the CPU, where it was measured), the input batch and its int64 labels "
                  "included; kernel workspaces, the allocator's rounding and the CUDA context not counted",
    "peak_breakdown": "parameters; buffers (batchnorm running statistics and num_batches_tracked, frozen layers' "
                      "weights); gradients (trained layers' weight gradients, made when their backward runs); "
                      "optimizer_state (sgd none, momentum 1 buffer, adam/adamw 2 per trained parameter and a 4-byte "
                      "step per parameter tensor, plus Adam's per-tensor temporaries in its step, as MemTracker "
                      "files them); activations (tensors autograd saved, freed as backward passes the layer that "
                      "saved them; the loss); temporaries (gradients of activations flowing back); input (the batch "
                      "and its labels)",
    "timeline": "one event per layer in forward and in backward, the loss, the optimizer's step and zero_grad: the "
                "bytes alive by category at the moment inside it when the most is",
    "max_batch": "the largest batch whose peak fits memory_bytes - headroom_bytes (headroom: the CUDA context and "
                 "the caching allocator, stated and settable); computed from the step's affine growth, confirmed "
                 "at it and one past it",
}
