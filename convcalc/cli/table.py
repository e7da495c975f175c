"""``convcalc table``, ``list``, ``show`` and ``kinds``: the network as a table, and what is bundled."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import click

from . import cli, warn_about_reading
from .options import counting_options, input_option

CONVENTIONS_HELP = """
\b
Conventions (all stated again under every table and in JSON):
  params       weights + biases (F·F·D1·K + K for conv); --no-bias counts
               weights only. Batchnorm's running statistics, and the weights
               of a layer marked frozen, are counted apart as buffers.
  MACs         multiply-accumulates of conv (H2·W2·F·F·D1/groups·K), fc
               (in·out), attention and matmul (batch·M·K·N) layers for one
               sample; bias additions, pooling, normalisation and
               activations are not counted unless --count-ops asks.
               FLOPs = 2·MACs (--count flops). The lecture notes' "FLOPs"
               formula H2·W2·F²·D1·D2 counts MACs.
  activations  output elements of each layer ("memory" in the cs231n VGG
               table), input included; --inplace leaves out activation and
               dropout outputs. Bytes = elements × dtype size × batch, in
               binary units (KiB, MiB, GiB): --memory bytes.
  memory       forward: every activation kept; inference peak: the largest
               live set plus weights; training: the peak of one training
               step (--optimizer), the figure `convcalc plan` gives and
               explains: autograd frees what it saved as backward passes,
               so it is not every activation + weights + gradients + state.
  RF           receptive field size and jump (Araujo et al., Distill 2019);
               'all' once units see the whole input.
  A stride that does not divide W − F + 2P is floored, as PyTorch does, and
  flagged; --strict turns it into a failure (exit 1) when input is lost.

\b
Exit codes: 0 ok, 1 a check failed (--strict), 2 bad input or usage,
3 internal error.
"""


# -o FILE's extension -> the format written
TABLES = {".txt": "table", ".json": "json", ".csv": "csv", ".md": "markdown", ".markdown": "markdown",
          ".html": "html", ".htm": "html", ".svg": "svg"}


@cli.command(epilog=CONVENTIONS_HELP)
@click.argument("spec")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "csv", "markdown", "html", "svg"]),
              default=None,
              help="Output format; json and csv carry exact integers; html is one self-contained page "
                   "(sortable, foldable, cost charts); svg is the table as an image.  [default: table, or "
                   "what -o's extension says]")
@counting_options
@click.option("--memory", "memory_unit", type=click.Choice(["elements", "bytes"]), default="elements",
              show_default=True, help="The activations column of the table and Markdown: output elements, or "
                                      "bytes at --dtype and --batch (JSON and CSV carry both).")
@input_option
@click.option("--rf", is_flag=True, help="Add a receptive-field column: size and jump (JSON always has them).")
@click.option("--strict", is_flag=True, help="A stride that does not fit is a failure (exit 1), not a warning.")
@click.option("--depth", type=click.IntRange(0, 1000), default=None,
              help="Show blocks nested up to this depth; deeper ones collapse into one row (default: all).")
@click.option("--width", type=click.IntRange(40, 1000), default=None,
              help="Table width: the notes wrap, then long names are cut; numbers never are "
                   "(default: the terminal's; no limit in a pipe or a file).")
@click.option("--output", "-o", "output", default="-", metavar="FILE", show_default=True,
              help="Where to write it; '-' is standard output. Its extension says the format (.txt, .json, "
                   ".csv, .md, .html, .svg; another is refused unless --format says). Never the spec itself; "
                   "a symlink there is replaced, not followed.")
@click.pass_context
def table(ctx: click.Context, /, spec: str, fmt: Optional[str], dtype: str, batch: int, rf: bool, strict: bool,
          depth: Optional[int], width: Optional[int], memory_unit: str, input_shape: Any, output: str,
          **counting: Any) -> None:
    """Every layer's output shape, params, MACs, activations and receptive field.

    SPEC is a YAML file, '-' for stdin, a bundled architecture (see `convcalc list`)
    or a layer string that starts with the input shape.

    \b
    Examples:
      convcalc table vgg16
      convcalc table alexnet --format json
      convcalc table resnet18 --format html -o resnet18.html
      convcalc table vgg16 --format svg > vgg16.svg
      convcalc table "227x227x3 conv96k11s4 maxpool3s2 lrn conv256k5p2 fc4096"
      convcalc table "224x224x3 (conv64k3p1 relu)x2 maxpool fc10" --count flops --rf
      convcalc table resnet50 --depth 1
      convcalc table vgg16 --no-bias --inplace --batch 32 --optimizer adam
      convcalc table vgg16 --memory bytes --dtype float16 --batch 8
      convcalc table fcn_resnet50 --input 480x640x3
    """
    from .. import api
    from ..errors import CheckFailed
    from ..report import render

    ctx.meta["convcalc.spec"] = spec  # named in an internal-error message
    if output != "-":  # the file writer loads only for a file
        from .output import checked_output

        fmt = checked_output(output, spec, fmt, TABLES, "table")
    fmt = fmt or "table"
    if fmt == "json":
        ctx.meta["convcalc.json_errors"] = True

    # The Python API's path from SPEC to a report (convcalc.api), the reading warned about first
    network = api.read(spec, input=input_shape)
    warn_about_reading(network)
    report = api.analyse(network, dtype=dtype, batch=batch, **counting).result
    diagram = ""
    if fmt == "html":  # the page shows the picture `convcalc draw` makes, inline
        from ..draw.blocks import blocks_svg

        diagram = blocks_svg(report)
    if output == "-":
        render(report, fmt, width=width, depth=depth, rf=rf, memory_unit=memory_unit, diagram=diagram)
    else:
        from .output import write_text

        write_text(output, lambda out: render(report, fmt, out, width=width, depth=depth, rf=rf,
                                              memory_unit=memory_unit, diagram=diagram))
    # One JSON document: its "warnings" are what --strict fails on, so no error document follows.
    ctx.meta["convcalc.json_errors"] = False
    if strict and report.warnings:
        n = len(report.warnings)
        first, note = report.warnings[0]
        what = "an operator convcalc cannot count" if note.code == "unknown-op" else "a stride that does not fit"
        raise CheckFailed(f"--strict: {n} layer{'s' if n > 1 else ''} with {what}; "
                          f"first: layer {first.index} '{first.full_name}': {note.brief or note.text}", first.loc)


@cli.command(name="list")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_(fmt: str) -> None:
    """The bundled architectures, one line each: input, params, MACs.

    \b
    Examples:
      convcalc list
      convcalc list --format json
    """
    from ..analysis.engine import analyse
    from ..report.table import list_lines
    from ..spec import catalog
    from ..spec.source import load_file

    rows = []
    for name in catalog.names():
        path = catalog.find(name)
        assert path is not None
        report = analyse(load_file(path, display=f"architectures/{os.path.basename(path)}"))
        t = report.totals
        rows.append({"name": name, "aliases": catalog.aliases_of(name), "input": str(report.spec.input),
                     "params": t.params, "macs": t.macs, "title": report.spec.title})
    if fmt == "json":
        import json

        click.echo(json.dumps({"schema_version": 1, "architectures": rows}, indent=2, ensure_ascii=False))
    else:
        click.echo(list_lines(rows), nl=False)


@cli.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a bundled architecture's YAML, to copy and edit.

    \b
    Examples:
      convcalc show vgg16
      convcalc show alexnet > my_net.yaml
    """
    from ..errors import SpecError
    from ..spec import catalog

    path = catalog.find(name)
    if path is None:
        raise SpecError(f"no bundled architecture '{name}'{catalog.suggest(name)}",
                        hint="`convcalc list` shows them all")
    with open(path, encoding="utf-8") as f:
        click.echo(f.read(), nl=False)


@cli.command()
def kinds() -> None:
    """Every layer kind, its other names and its options (YAML key, layer-string letter).

    \b
    Examples:
      convcalc kinds
    """
    from ..layers import KINDS

    for k in KINDS:
        aliases = f" (also {', '.join(k.aliases)})" if k.aliases else ""
        lead = f"; a number after it sets {k.rule.leading}" if k.rule.leading else ""
        click.echo(f"{k.name}{aliases}: {k.summary}{lead}")
        for name, f in k.option_fields().items():
            letter = f" [{f.metadata['letter']}]" if f.metadata["letter"] else ""
            click.echo(f"    {name}{letter}: {f.metadata['help']}")
    from ..layers import MERGES
    from ..spec.model import ITEM_WORDS, SEQUENCE_WORDS

    merges: Dict[Any, List[str]] = {}
    for word, merge in MERGES.items():
        merges.setdefault(merge, []).append(word)
    click.echo("\nReserved words: YAML items that merge branches or chain layers, and an item's own keys; "
               "no block may take these names.")
    for merge, words in merges.items():
        click.echo(f"{', '.join(words)}: merges the branches listed under it. {(merge.__doc__ or '').splitlines()[0]}")
    click.echo(f"{', '.join(SEQUENCE_WORDS)}: a chain of the layers listed under it, under one name")
    click.echo(f"{', '.join(ITEM_WORDS)}: an item's name, repeat count, expectations, the tensor it reads, "
               "whether it is frozen (nothing trained: weights counted as buffers), and the layer whose weights it "
               "shares (counted there)")
