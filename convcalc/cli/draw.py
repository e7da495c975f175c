"""``convcalc draw``: the network as a picture (SVG), drawn from the one analysis result."""

from __future__ import annotations

from typing import Any, Optional

import click

from . import cli, warn_about_reading
from .options import input_option
from .output import refuse_input, write_file


@cli.command()
@click.argument("spec")
@click.option("--output", "-o", "output", default="-", metavar="FILE.svg", show_default=True,
              help="Where to write the picture; '-' is standard output. A name ending .png implies --format png. "
                   "Never the spec itself; a symlink there is replaced, not followed.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), default=None,
              help="svg (the default), or png rendered by rsvg-convert when it is installed "
                   "(librsvg2-bin); convcalc itself never needs it.")
@click.option("--style", type=click.Choice(["blocks", "graph", "lenet"]), default="blocks", show_default=True,
              help="blocks: the lecture-figure look, 3-D boxes left to right. graph: a top-to-bottom flow "
                   "for branching networks: shortcuts into ⊕, branches side by side, references from far "
                   "back (U-Net's skips, FPN's laterals) at the sides, outputs marked. lenet: LeNet-5's "
                   "Fig. 2, stacks of feature-map planes (6@28x28) with the kernel's window and the "
                   "operation between them; a branching network is drawn one stack per branching block.")
@click.option("--depth", type=click.IntRange(0, 1000), default=None,
              help="Draw blocks nested deeper than this as one box each, as `table --depth` collapses "
                   "them (default: every layer of a chain; each branching block as one box).")
@click.option("--scale", type=click.Choice(["log", "sqrt", "linear"]), default="log", show_default=True,
              help="How H, W and C set a box's height, receding side and thickness.")
@click.option("--color", "color", type=click.Choice(["kind", "macs", "params", "memory"]), default="kind",
              show_default=True, help="Colour boxes by layer kind, or as a heat map of MACs, params or "
                                      "activations (memory).")
@click.option("--labels", type=click.Choice(["shape", "full"]), default="shape", show_default=True,
              help="Under each box: its output shape, or also what it is, its params and MACs.")
@click.option("--every-layer", is_flag=True,
              help="Draw activations, normalisation and dropout as boxes of their own.")
@click.option("--kernels/--no-kernels", default=None,
              help="blocks style: a small cube for each conv's and pool's kernel on the box it reads, with "
                   "lines to the position it makes (default: on for chains of at most 25 boxes).")
@click.option("--layout", type=click.Choice(["auto", "rows"]), default="auto", show_default=True,
              help="blocks and lenet styles: auto draws an encoder-decoder (U-Net, FPN: skips joining maps of one "
                   "size over deeper ones, found from the graph) U-shaped as their papers do, a row per level; "
                   "rows draws every network in rows.")
@click.option("--width", type=click.IntRange(400, 20000), default=1400, show_default=True,
              help="Picture width in px; longer networks wrap into rows.")
@input_option
@click.pass_context
def draw(ctx: click.Context, spec: str, output: str, style: str, depth: Optional[int], scale: str, color: str,
         labels: str, every_layer: bool, kernels: Optional[bool], layout: str, width: int, fmt: Optional[str],
         input_shape: Any) -> None:
    """Draw the network as SVG: each layer's output a 3-D box sized by its shape.

    SPEC is a YAML file, '-' for stdin, a bundled architecture (see `convcalc list`)
    or a layer string that starts with the input shape. The text in the picture
    (names, shapes, figures, the conventions) is real SVG text; hover a box for
    its exact figures.

    \b
    Examples:
      convcalc draw lenet5 -o lenet5.svg
      convcalc draw vgg16 -o vgg16.svg --labels full
      convcalc draw alexnet --color macs -o alexnet-macs.svg
      convcalc draw resnet18 --depth 0 -o resnet18.svg
      convcalc draw alexnet -o alexnet.png      # needs rsvg-convert
      convcalc draw "224x224x3 (conv64k3p1 relu)x2 maxpool fc10" > net.svg
    """
    from ..analysis.engine import analyse
    from ..draw.blocks import blocks_svg
    from ..draw.graph import graph_svg
    from ..draw.lenet import lenet_svg
    from ..load import load
    from ..spec.model import with_input

    ctx.meta["convcalc.spec"] = spec  # named in an internal-error message
    refuse_input(output, spec)  # before anything is read: `draw net.yaml -o net.yaml` is a slip
    network = with_input(load(spec), input_shape)
    warn_about_reading(network)
    report = analyse(network)
    if style == "blocks":
        svg = blocks_svg(report, depth=depth, scale=scale, color=color, labels=labels, width=width,
                         every_layer=every_layer, kernels=kernels, layout=layout)
    else:  # the lenet style always draws its kernel windows; the graph style has none
        style_svg: Any = {"graph": graph_svg, "lenet": lenet_svg}[style]
        svg = style_svg(report, depth=depth, scale=scale, color=color, labels=labels, width=width,
                        every_layer=every_layer, **({"layout": layout} if style == "lenet" else {}))
    if fmt is None:
        fmt = "png" if output.lower().endswith(".png") else "svg"
    picture: Any = svg
    if fmt == "png":
        from ..draw.raster import png_zoom, svg_to_png

        zoom, note = png_zoom(svg)  # bounded before rendering: the renderer holds every pixel
        if note:
            click.echo(f"warning: {note}", err=True)
        picture = svg_to_png(svg, zoom)
    if output == "-":
        click.echo(picture, nl=False)
        return
    write_file(output, picture)  # rsvg-convert's bytes, or the SVG text
