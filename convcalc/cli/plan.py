"""``convcalc plan``: what one training step keeps for backward and costs, per layer."""

from __future__ import annotations

from typing import IO, Any, Optional, Tuple

import click

from . import cli, warn_about_reading
from .options import input_option

PLAN_HELP = """
\b
Conventions (stated again under the table and in JSON):
  saved      the tensors PyTorch's autograd keeps for backward (torch 2.14,
             train mode): conv and fc their input; batchnorm its input + 4
             per-channel vectors; ReLU, sigmoid, tanh, softmax their output,
             other activations their input; max pool its input + int64
             indices; avg pool its input; dropout its mask; attention its
             input, Q, K, V, output and logsumexp (window/grid attention:
             windows, Q, K, V, softmax weights, output, bias index); mul
             both operands; add, concat, upsample nothing; flatten, chunks,
             crops, tokens, permute and reshape are views (a reshape after
             a permute a copy). A tensor two layers save counts once, at
             the first. Bytes at --dtype and --batch (per-channel
             statistics once, not per sample); parameters not counted. A
             layer kind without a rule is named and the total marked
             incomplete.
  --backend  whose rules: cuda (the default) or cpu. The CPU's are measured
             exactly against torchvision's models. Where CUDA's differ, from
             PyTorch's source (and fake CUDA tensors under FakeTensorMode):
             dropout keeps a bool mask, 1 byte an element (native_dropout,
             Dropout.cpp); batchnorm's batch mean and 1/std and layer norm's
             mean and 1/std are in the accumulation type, float32 for
             float16/bfloat16 (layer_norm_cuda, batch_norm_cuda); cuDNN
             batchnorm's reserve space is NOT counted (its size is cuDNN's,
             known only on a GPU); attention runs the kernel sdp_utils.cpp
             picks on an sm80+ GPU: mem-efficient at float32 (logsumexp
             padded to 32 tokens a head; its batch-first output copied for
             out_proj at a batch over 1), flash at float16/bfloat16 (as the
             CPU's, plus a 24-byte rng state on the GPU; --no-flash: a GPU
             before sm80, V100 or T4, runs mem-efficient there too);
             float64 attention on CUDA (the math kernel) has no rule.
  --amp      torch.autocast at fp16 or bf16 over a float32 model
             (autocast_mode.cpp's op lists): parameters and gradients stay
             float32 (not counted); conv, fc, attention and PReLU run in
             half precision and save a half-precision copy of a float32
             input and of their weight (autocast's cached copy, column
             "w copies"; fc's only where its input needs a gradient); on
             CUDA layer and group norm run in float32 (a float32 copy of a
             half input) and softmax outputs float32; every other op takes
             its input's dtype, the widest of several (class token,
             position embedding, layer scale and frozen batchnorm join a
             float32 parameter: float32 out); statistics float32; LRN's
             normalisers float32; window attention's weights after
             softmax float32 (the float32 bias promotes the scores) plus
             the matmul's half copy. Needs --dtype float32.
  MACs       per sample, as `convcalc table` counts them; backward =
             grad-input + grad-weight, each the forward's MACs (conv, fc,
             attention, matmul); no grad-input where nothing before needs
             a gradient (the first conv), no grad-weight when frozen.
             FLOPs = 2 x MACs (--count flops), per sample and per step.
  roofline   with --device: a LOWER BOUND on the time of one step,
             never a prediction: the sum over layers, forward and
             backward, of max(FLOPs / peak FLOP/s, bytes / bandwidth),
             plus the optimizer step's bytes / bandwidth (SGD's least:
             read weights and gradients, write weights). FLOPs = 2 x
             MACs x batch. bytes = the least a pass moves: forward reads
             its inputs and weights and writes its output and what it
             saves; backward reads its output's gradient, what it saved
             and its weights, writes its inputs' and weights'
             gradients; views move nothing, add and concat nothing
             backward (gradients pass through). Peaks are
             the datasheet's (TF32 tensor cores for float32 where the
             device has them, FP16/BF16 tensor cores dense, never the
             sparsity figures); with --amp, the FP16/BF16 peak and every
             tensor at 2 bytes (fewer bytes than autocast moves: still a
             bound). A layer is compute-bound when its
             FLOPs/byte (arithmetic intensity) reach peak / bandwidth.
             samples/s <= batch / that time. Layers unfused, one after
             another, as eager PyTorch runs them: a compiler that fuses
             layers moves fewer bytes and is not bounded by this.
  peak       the most memory alive at once in one steady-state training
             step (the optimizer's state already made): forward, cross-
             entropy loss, backward, optimizer step, grads set to None, by
             MemTracker's categories: parameters, buffers (batchnorm's
             running statistics and counter; frozen layers' weights),
             gradients (a trained layer's, made when its backward runs;
             frozen layers have none), optimizer state (sgd none, momentum
             1 buffer, adam/adamw exp_avg + exp_avg_sq per trained
             parameter + a 4 B step per tensor, and Adam's two per-tensor
             temporaries during its step), activations (saved tensors,
             freed as backward passes the layer that saved them; the
             loss), temporaries (the gradients flowing back) and the input
             batch with its int64 labels. Equal to PyTorch's MemTracker
             (CPU) to the byte on ResNet-18/50, VGG-16, MobileNetV2,
             DenseNet-121, ViT-B/16, AlexNet, GoogLeNet, SqueezeNet,
             ShuffleNetV2, ConvNeXt-T, Swin-T (one case within 0.04%).
             Not counted: kernel workspaces
             (cuDNN's), the allocator's rounding and fragmentation, the
             CUDA context: the headroom stands for them.
  max batch  with --memory or --device: the largest batch whose peak fits
             the memory less the headroom (default 1GiB: a CUDA context
             with cuBLAS and cuDNN takes about 0.3-0.6 GiB, the caching
             allocator the rest; measure yours and pass --headroom). The
             peak is affine in the batch per moment of the step; the
             answer is computed, then checked at it and one past it.
  --checkpoint
             activation checkpointing as torch.utils.checkpoint runs it
             with use_reentrant=False (PyTorch's recommended mode),
             preserve_rng_state and early stop (the defaults): inside a
             segment the forward saves nothing but keeps the segment's
             input, alive until the segment's backward is done; backward
             re-runs the segment's forward up to its last layer that saves
             anything (phase "recompute"), those tensors alive only during
             that segment's backward; the RNG state stashed per segment
             for dropout (5,056 B of the CPU generator's, +16 B of CUDA's)
             is host memory, not in the peak. Segments: blocks = each block
             of the innermost run of named blocks (ResNet's bottlenecks,
             ViT's encoder layers); every:K = runs of K items of the
             network's chain (each repeated block, else each top-level
             block, else each layer outside blocks); sqrt (--checkpoint
             alone) = checkpoint_sequential's isqrt(n) segments of n //
             isqrt(n) items; as checkpoint_sequential, the last run of
             every:K and sqrt is left unchecked. Reported: the peak with
             and without, where it now falls, the extra forward MACs of
             the re-run layers (per sample, per step, % of the step's),
             and with --memory/--device the largest batch under it too.
             Checked against MemTracker to the byte on ResNet-50 (blocks,
             sqrt), VGG-16 (sqrt) and ViT-B/16 (blocks) at batch 1, 8 and
             32 (ViT at batch 1 within 0.05%). A SPEC right after a bare
             --checkpoint is read as its mode: put SPEC first.

\b
Exit codes: 0 ok, 2 bad input or usage, 3 internal error.
"""


def _device(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Any:
    """``--device v100-16``: the device of that name in analysis/devices.py; exit 2 naming them all if none."""
    if value is None:
        return None
    from ..analysis.devices import device_names, find_device
    from ..errors import shown

    found = find_device(value)
    if found is None:
        raise click.BadParameter(f"no device called '{shown(value)}'; known: {', '.join(device_names())}")
    return found


def _checkpoint_mode(ctx: click.Context, param: click.Parameter, text: Optional[str]) -> Optional[Tuple[str, int]]:
    """--checkpoint's mode (blocks, sqrt, every:K) as (mode, K), or None; exit 2 on a bad one. Run
    as the option is read, before SPEC: ``plan --checkpoint resnet50`` reads the spec as the mode,
    and is told so rather than that SPEC is missing."""
    if text is None:
        return None
    from ..analysis.checkpoint import CheckpointError, parse_mode
    from ..errors import shown

    try:
        return parse_mode(text)
    except CheckpointError as e:
        raise click.BadParameter(f"'{shown(text)}' is not a mode; hint: {e.hint}; a SPEC right after "
                                 "--checkpoint is read as its mode: write --checkpoint=sqrt, or put SPEC first") \
            from None


@cli.command(epilog=PLAN_HELP)
@click.argument("spec")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "html", "svg"]), default=None,
              help="Output format; json carries exact integers; html is one self-contained page (the memory "
                   "timeline, the peak, the layers, sortable); svg is the memory timeline alone.  [default: "
                   "table, or what -o's extension says]")
@click.option("--batch", type=click.IntRange(1, 10**9), default=1, show_default=True,
              help="Batch size of the training step.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64"]), default="float32",
              show_default=True, help="Element type of the saved tensors (max-pool indices are int64 always).")
@click.option("--backend", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True,
              help="Whose rules decide what is saved: PyTorch's on CUDA or on the CPU (see below).")
@click.option("--amp", type=click.Choice(["fp16", "bf16"]), default=None,
              help="Mixed precision as torch.autocast does it, over float32 parameters (see below).")
@click.option("--no-flash", "no_flash", is_flag=True,
              help="CUDA: the GPU has no flash attention (before sm80: V100, T4), so mem-efficient runs at "
                   "half precision too (implied by --device for such a GPU).")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam", "adamw"]), default="sgd",
              show_default=True, help="The optimizer whose state the step keeps.")
@click.option("--memory", "memory", metavar="SIZE", default=None,
              help="Find the largest batch that fits SIZE (16GiB = 16·2**30 B, 16GB = 16·10**9 B, 12000MiB).")
@click.option("--headroom", metavar="SIZE", default="1GiB", show_default=True,
              help="Memory a GPU run needs besides the step (CUDA context, allocator), left out of --memory/--device.")
@click.option("--checkpoint", "checkpoint", is_flag=False, flag_value="sqrt", default=None,
              metavar="[blocks|sqrt|every:K]", callback=_checkpoint_mode,
              help="Activation checkpointing (torch.utils.checkpoint, use_reentrant=False): each repeated block, "
                   "isqrt(n) segments of the network's chain of blocks (alone: sqrt), or runs of K; the peak with and "
                   "without, the extra forward MACs (see below).")
@input_option
@click.option("--width", type=click.IntRange(40, 1000), default=None,
              help="Table width (default: the terminal's; no limit in a pipe or a file).")
@click.option("--count", type=click.Choice(["macs", "flops"]), default="macs", show_default=True,
              help="Count multiply-accumulates, or FLOPs (= 2·MACs).")
@click.option("--device", callback=_device, metavar="NAME",
              help="A GPU from its datasheet (V100-16, A100-80, RTX4090 ...): the largest batch that fits its "
                   "memory, and the roofline, a lower bound on the step's time.")
@click.option("--output", "-o", "output", default="-", metavar="FILE", show_default=True,
              help="Where to write it; '-' is standard output. Its extension says the format (.txt, .json, "
                   ".html, .svg; another is refused unless --format says). Never the spec itself; a symlink "
                   "there is replaced, not followed.")
@click.pass_context
def plan(ctx: click.Context, /, spec: str, fmt: Optional[str], batch: int, dtype: str, backend: str,
         amp: Optional[str], no_flash: bool, optimizer: str, memory: Optional[str], headroom: str, input_shape: Any,
         width: Optional[int], count: str, device: Any, checkpoint: Optional[Tuple[str, int]], output: str) -> None:
    """What one training step saves for backward, and its forward and backward MACs, per layer.

    SPEC is a YAML file, '-' for stdin, a bundled architecture (see `convcalc list`)
    or a layer string that starts with the input shape.

    \b
    Examples:
      convcalc plan resnet50 --batch 32 --optimizer momentum
      convcalc plan resnet50 --optimizer adam --device "V100 16GB"
      convcalc plan vgg16 --memory 12000MiB --headroom 512MiB
      convcalc plan vit_b_16 --batch 8 --amp bf16
      convcalc plan resnet18 --backend cpu
      convcalc plan resnet50 --batch 64 --checkpoint blocks --device v100-16
      convcalc plan vgg16 --checkpoint          # isqrt(n) segments, as checkpoint_sequential
      convcalc plan "224x224x3 conv64k3p1 bn relu maxpool fc10" --format json
      convcalc plan resnet50 --batch 32 --optimizer momentum -o resnet50-step.html
      convcalc plan vgg16 --optimizer adam --format svg > vgg16-step.svg
      convcalc plan resnet50 --batch 256 --dtype float16 --device v100-16 --count flops
    """
    from .. import api
    from ..analysis.plan_result import Fit, Step
    from ..analysis.step import largest_batch, step, step_at
    from ..analysis.training import training

    if output != "-":  # the file writer loads only for a file
        from .output import checked_output

        fmt = checked_output(output, spec, fmt, PLANS, "table")
    fmt = fmt or "table"
    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    if no_flash and backend != "cuda":
        raise click.UsageError("--no-flash says which attention kernel a GPU runs; the CPU runs its own flash "
                               "kernel; hint: drop --no-flash, or use --backend cuda")
    if amp is not None and dtype != "float32":
        raise click.UsageError(f"--amp {amp} runs over a float32 model (its parameters stay float32), not --dtype "
                               f"{dtype}; hint: leave out --dtype with --amp")
    budget = memory_budget(memory, device, headroom)  # bad usage is found before any work
    if device is not None and backend == "cuda" and not device.flash_attention:
        no_flash = True  # before sm80 (V100, T4) PyTorch has no flash kernel: mem-efficient runs instead
    ctx.meta["convcalc.spec"] = spec
    # the Python API's path from SPEC to a report (convcalc.api), as `table` takes it
    network = api.read(spec, input=input_shape)
    warn_about_reading(network)
    report = api.analyse(network, dtype=dtype, batch=batch, count=count).result
    kept = training(report, backend=backend, amp=amp, flash=not no_flash)
    bound = None
    if device is not None:
        from ..analysis.roofline import roofline

        bound = roofline(report, kept, device, optimizer)
    the_step = step(report, kept, optimizer)
    fit: Optional[Fit] = None
    if budget is not None:
        def at(n: int) -> Step:
            return the_step if n == batch else step_at(report, n, optimizer, backend, amp, not no_flash)

        fit = largest_batch(at, *budget)
    saving = None
    if checkpoint is not None:
        saving = checkpoint_plan(report, kept, the_step, checkpoint, optimizer, backend, amp, not no_flash, budget)
    if output == "-":
        write_plan(fmt, report, kept, the_step, fit, bound, saving, width, None)
    else:
        from .output import write_text

        write_text(output, lambda out: write_plan(fmt, report, kept, the_step, fit, bound, saving, width, out))
    ctx.meta["convcalc.json_errors"] = False


# -o FILE's extension -> the format written
PLANS = {".txt": "table", ".json": "json", ".html": "html", ".htm": "html", ".svg": "svg"}


def write_plan(fmt: str, report: Any, kept: Any, the_step: Any, fit: Any, bound: Any, saving: Any,
               width: Optional[int], out: Optional[IO[str]]) -> None:
    """The plan in ``fmt`` to ``out`` (None: standard output)."""
    if fmt == "table":
        from ..report.plan_table import print_plan

        print_plan(report, kept, the_step, fit, file=out, width=width, bound=bound, checkpoint=saving,
                   color=False if out is not None else None)
        return
    if fmt == "json":
        import json

        from ..report.plan_table import plan_json

        text = json.dumps(plan_json(report, kept, the_step, fit, bound, saving), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        from ..report.plan_html import to_plan_html

        text = to_plan_html(report, kept, the_step, fit, bound, saving)
    else:
        from ..report.timeline_svg import timeline_svg

        text = timeline_svg(report, the_step, fit)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write(text)


def checkpoint_plan(report: Any, kept: Any, plain: Any, mode: Tuple[str, int], optimizer: str, backend: str,
                    amp: Optional[str], flash: bool, budget: Optional[Tuple[int, int, str]]) -> Any:
    """The step under checkpointing beside the plain one, and its largest batch when asked."""
    from ..analysis.checkpoint import (
        CheckpointError,
        checkpointed,
        checkpointed_step_at,
    )
    from ..analysis.step import largest_batch
    from ..values import replace

    try:
        saving = checkpointed(report, kept, plain.peak_bytes, optimizer, *mode)
    except CheckpointError as e:
        raise click.UsageError(f"{e.message}; hint: {e.hint}") from None
    if budget is not None:
        def at(n: int) -> Any:
            return saving.step if n == report.batch else checkpointed_step_at(
                report, n, optimizer, saving.segments, backend, amp, flash)

        saving = replace(saving, fit=largest_batch(at, *budget))
    return saving


def memory_budget(memory: Optional[str], device: Any, headroom: str) -> Optional[Tuple[int, int, str]]:
    """--memory or --device (a Device, found by its option's callback), and --headroom: (memory
    bytes, headroom bytes, device name) or None."""
    from ..errors import SpecError, shown
    from ..spec.expectations import parse_bytes

    if memory is not None and device is not None:
        raise click.UsageError("give --memory or --device, not both")
    try:
        room = parse_bytes(headroom, "--headroom")
        size = parse_bytes(memory, "--memory") if memory is not None else None
    except SpecError as e:
        raise click.UsageError(shown(f"{e.message}; {e.hint}" if e.hint else e.message)) from None
    if size is not None:
        return enough(size, room, "")
    if device is None:
        return None
    return enough(device.memory_bytes, room, device.name)


def enough(memory: int, room: int, name: str) -> Tuple[int, int, str]:
    """The budget, refused when the headroom leaves nothing of the memory."""
    if room >= memory:
        raise click.UsageError(f"--headroom ({room:,} B) leaves nothing of {name or '--memory'} ({memory:,} B); "
                               "give a smaller one, e.g. --headroom 512MiB, or 0")
    return memory, room, name
