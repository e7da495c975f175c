"""``convcalc draw``: the network as a picture (SVG; PNG or PDF by rsvg-convert), drawn from the one analysis result."""

from __future__ import annotations

from typing import Any, Optional

import click

from . import cli, warn_about_reading
from .options import input_option
from .output import write_file

DEFAULT_WIDTH = 1400  # px, where rows wrap when no --width is given


PICTURES = {".svg": "svg", ".png": "png", ".pdf": "pdf"}  # -o FILE's extension -> what is written
MAX_TITLE = 500  # characters: a title is a line, not a document


def _title(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    if value is not None and len(value) > MAX_TITLE:
        raise click.BadParameter(f"{len(value):,} characters; a title is at most {MAX_TITLE}")
    return value


@cli.command()
@click.argument("spec")
@click.option("--output", "-o", "output", default="-", metavar="FILE", show_default=True,
              help="Where to write the picture; '-' is standard output. Its extension says what is written: "
                   ".svg, .png or .pdf (another is refused unless --format says). Never the spec itself; a "
                   "symlink there is replaced, not followed.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf"]), default=None,
              help="svg (the default, or what -o's extension says); png or pdf rendered by rsvg-convert when "
                   "it is installed (librsvg2-bin); convcalc itself never needs it. Must agree with -o's "
                   "extension.")
@click.option("--zoom", type=click.FloatRange(0.25, 8.0), default=None,
              help="PNG only: pixels per SVG px, 0.25 to 8 (2 for print or a high-density screen: 12 px "
                   "labels become 24 px). SVG and PDF are vector and need none.  [default: 1]")
@click.option("--title", "title", default=None, callback=_title, metavar="TEXT",
              help="The line at the top instead of the network's title and input; '' for none.")
@click.option("--no-caption", "no_caption", is_flag=True,
              help="Leave out the totals line under the title and the conventions at the bottom, for a "
                   "report whose own caption says them; the legend stays.")
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
              help="Draw activations, normalisation and dropout as boxes of their own; in the graph "
                   "style, also each of a run of identical blocks (drawn once, first…last ×N, without it).")
@click.option("--kernels/--no-kernels", default=None,
              help="blocks style: a small cube for each conv's and pool's kernel on the box it reads, with "
                   "lines to the position it makes (default: on for chains of at most 25 boxes).")
@click.option("--layout", type=click.Choice(["auto", "rows"]), default="auto", show_default=True,
              help="blocks and lenet styles: auto draws an encoder-decoder (U-Net, FPN: skips joining maps of one "
                   "size over deeper ones, found from the graph) U-shaped as their papers do, a row per level; "
                   "rows draws every network in rows. A U-shaped picture that --width would shrink below half "
                   "size is drawn in rows.")
@click.option("--width", type=click.IntRange(400, 20000), default=None,
              help="The picture's width in px, at most: longer networks wrap into rows, and what cannot wrap "
                   "is scaled to fit (down to half size; narrower is refused, naming the least width). An "
                   "encoder-decoder drawn U-shaped (a column per box) that would shrink below half size is "
                   "drawn in rows instead, with a note. [default: rows wrap at 1400 px; a graph grows as wide "
                   "as its branches, a U-shaped picture as its columns]")
@input_option
@click.pass_context
def draw(ctx: click.Context, spec: str, output: str, style: str, depth: Optional[int], scale: str, color: str,
         labels: str, every_layer: bool, kernels: Optional[bool], layout: str, width: Optional[int], fmt: Optional[str],
         zoom: Optional[float], title: Optional[str], no_caption: bool, input_shape: Any) -> None:
    """Draw the network as SVG, PNG or PDF: each layer's output a 3-D box sized by its shape.

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
      convcalc draw alexnet -o alexnet.png --zoom 2   # needs rsvg-convert
      convcalc draw unet --style graph -o unet.pdf --title "U-Net" --no-caption
      convcalc draw "224x224x3 (conv64k3p1 relu)x2 maxpool fc10" > net.svg
    """
    from .. import api
    from ..draw.blocks import Caption, blocks_svg
    from ..draw.graph import graph_svg
    from ..draw.lenet import lenet_svg
    from ..errors import ConvcalcError
    from .output import checked_output

    ctx.meta["convcalc.spec"] = spec  # named in an internal-error message
    # before anything is read: `draw net.yaml -o net.yaml` is a slip, and so is -o net.jpg
    fmt = checked_output(output, spec, fmt, PICTURES, "svg")
    if zoom is not None and fmt != "png":
        raise ConvcalcError(f"--zoom sets a PNG's pixels; {fmt.upper()} is vector and is drawn at any size "
                            "without it", hint="leave --zoom out, or write PNG (-o FILE.png)")
    network = api.read(spec, input=input_shape)  # the Python API's path, as `table` takes it
    warn_about_reading(network)
    report = api.analyse(network).result
    caption = Caption(title=title, caption=not no_caption)

    def picture_at(px: int, laid_out: str = layout) -> str:
        if style == "blocks":
            return blocks_svg(report, depth=depth, scale=scale, color=color, labels=labels, width=px,
                              every_layer=every_layer, kernels=kernels, layout=laid_out, caption=caption)
        # the lenet style always draws its kernel windows; the graph style has none
        if style == "lenet":
            return lenet_svg(report, depth=depth, scale=scale, color=color, labels=labels, width=px,
                             every_layer=every_layer, layout=laid_out, caption=caption)
        return graph_svg(report, depth=depth, scale=scale, color=color, labels=labels, width=px,
                         every_layer=every_layer, caption=caption)

    if width is None:
        svg = picture_at(DEFAULT_WIDTH)
    else:  # a width asked for is the picture's, scaled to fit where it does not wrap, or refused
        from ..draw.fit import fitted

        svg, note = fitted(picture_at, width, lambda px: picture_at(px, "rows"))  # a U too wide: in rows
        if note:
            click.echo(f"note: {note}", err=True)
    picture: Any = svg
    if fmt == "png":
        from ..draw.raster import png_zoom, svg_to_png

        zoomed, note = png_zoom(svg, zoom or 1.0)  # bounded before rendering: the renderer holds every pixel
        if note:
            click.echo(f"warning: {note}", err=True)
        picture = svg_to_png(svg, zoomed)
    elif fmt == "pdf":
        from ..draw.raster import pdf_note, svg_to_pdf

        note = pdf_note(svg)
        if note:
            click.echo(f"warning: {note}", err=True)
        picture = svg_to_pdf(svg)
    if output == "-":
        click.echo(picture, nl=False)
        return
    write_file(output, picture)  # rsvg-convert's bytes, or the SVG text
