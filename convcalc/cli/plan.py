"""``convcalc plan``: what one training step keeps for backward and costs, per layer."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import click

from . import cli, warn_about_reading
from .options import input_option

PLAN_HELP = """
\b
Conventions (stated again under the table and in JSON):
  saved      the tensors PyTorch's autograd keeps for backward, by its CPU
             rules (torch 2.14, train mode, measured): conv and fc their
             input; batchnorm its input + 4 per-channel vectors; ReLU,
             sigmoid, tanh, softmax their output, other activations their
             input; max pool its input + int64 indices; avg pool its input;
             dropout its mask; attention its input, Q, K, V, output and
             logsumexp (window/grid attention: windows, Q, K, V, softmax
             weights, output, bias index); mul both operands; add,
             concat, upsample nothing; flatten, chunks, crops, tokens,
             permute and reshape are views (a reshape after a permute a
             copy). A tensor two layers save counts once, at the first.
             Bytes at --dtype and --batch (per-channel statistics once,
             not per sample); parameters not counted. A layer kind
             without a rule is named and the total marked incomplete.
  MACs       per sample, as `convcalc table` counts them; backward =
             grad-input + grad-weight, each the forward's MACs (conv, fc,
             attention, matmul); no grad-input where nothing before needs
             a gradient (the first conv), no grad-weight when frozen.
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
  Not built yet: mixed precision, checkpointing, CUDA's rules.

\b
Exit codes: 0 ok, 2 bad input or usage, 3 internal error.
"""


@cli.command(epilog=PLAN_HELP)
@click.argument("spec")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format; json carries exact integers.")
@click.option("--batch", type=click.IntRange(1, 10**9), default=1, show_default=True,
              help="Batch size of the training step.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64"]), default="float32",
              show_default=True, help="Element type of the saved tensors (max-pool indices are int64 always).")
@click.option("--backend", type=click.Choice(["cpu"]), default="cpu", show_default=True,
              help="Whose rules decide what is saved; only PyTorch's CPU rules so far.")
@click.option("--optimizer", type=click.Choice(["sgd", "momentum", "adam", "adamw"]), default="sgd",
              show_default=True, help="The optimizer whose state the step keeps.")
@click.option("--memory", "memory", metavar="SIZE", default=None,
              help="Find the largest batch that fits SIZE (16GiB = 16·2**30 B, 16GB = 16·10**9 B, 12000MiB).")
@click.option("--device", metavar="NAME", default=None,
              help="Find the largest batch that fits a GPU's memory (V100, A100 80GB, RTX 4090 ...).")
@click.option("--headroom", metavar="SIZE", default="1GiB", show_default=True,
              help="Memory a GPU run needs besides the step (CUDA context, allocator), left out of --memory/--device.")
@input_option
@click.option("--width", type=click.IntRange(40, 1000), default=None,
              help="Table width (default: the terminal's; no limit in a pipe or a file).")
@click.pass_context
def plan(ctx: click.Context, /, spec: str, fmt: str, batch: int, dtype: str, backend: str, optimizer: str,
         memory: Optional[str], device: Optional[str], headroom: str, input_shape: Any,
         width: Optional[int]) -> None:
    """What one training step saves for backward, and its forward and backward MACs, per layer.

    SPEC is a YAML file, '-' for stdin, a bundled architecture (see `convcalc list`)
    or a layer string that starts with the input shape.

    \b
    Examples:
      convcalc plan resnet50 --batch 32 --optimizer momentum
      convcalc plan resnet50 --optimizer adam --device "V100 16GB"
      convcalc plan vgg16 --memory 12000MiB --headroom 512MiB
      convcalc plan "224x224x3 conv64k3p1 bn relu maxpool fc10" --format json
    """
    from ..analysis.engine import analyse
    from ..analysis.result import Fit, Step
    from ..analysis.step import largest_batch, step, step_at
    from ..analysis.training import training
    from ..load import load
    from ..spec.model import with_input

    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True
    budget = memory_budget(memory, device, headroom)  # bad usage is found before any work
    ctx.meta["convcalc.spec"] = spec
    network = with_input(load(spec), input_shape)
    warn_about_reading(network)
    report = analyse(network, dtype=dtype, batch=batch)
    kept = training(report)
    the_step = step(report, kept, optimizer)
    fit: Optional[Fit] = None
    if budget is not None:
        def at(n: int) -> Step:
            return the_step if n == batch else step_at(report, n, optimizer)

        fit = largest_batch(at, *budget)
    if fmt == "json":
        import json

        from ..report.plan_table import plan_json

        click.echo(json.dumps(plan_json(report, kept, the_step, fit), indent=2, ensure_ascii=False))
    else:
        from ..report.plan_table import print_plan

        print_plan(report, kept, the_step, fit, width=width)
    ctx.meta["convcalc.json_errors"] = False


def memory_budget(memory: Optional[str], device: Optional[str], headroom: str) -> Optional[Tuple[int, int, str]]:
    """--memory or --device, and --headroom: (memory bytes, headroom bytes, device name) or None."""
    from ..analysis.devices import device_names, find_device
    from ..errors import SpecError
    from ..spec.expectations import parse_bytes

    if memory is not None and device is not None:
        raise click.UsageError("give --memory or --device, not both")
    try:
        room = parse_bytes(headroom, "--headroom")
        size = parse_bytes(memory, "--memory") if memory is not None else None
    except SpecError as e:
        raise click.UsageError(f"{e.message}; {e.hint}" if e.hint else e.message) from None
    if size is not None:
        return enough(size, room, "")
    if device is None:
        return None
    found = find_device(device)
    if found is None:
        raise click.BadParameter(f"no device called '{device}'; known: {', '.join(device_names())}",
                                 param_hint="'--device'")
    return enough(found.memory_bytes, room, found.name)


def enough(memory: int, room: int, name: str) -> Tuple[int, int, str]:
    """The budget, refused when the headroom leaves nothing of the memory."""
    if room >= memory:
        raise click.UsageError(f"--headroom ({room:,} B) leaves nothing of {name or '--memory'} ({memory:,} B); "
                               "give a smaller one, e.g. --headroom 512MiB, or 0")
    return memory, room, name
