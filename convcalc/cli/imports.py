"""``convcalc import``: a model file (ONNX ...) as a convcalc YAML spec, to edit, check in, draw."""

from __future__ import annotations

from typing import Any

import click

from . import _echo_quietly, cli
from .options import input_option


@cli.command(name="import")
@click.argument("file")
@input_option
@click.pass_context
def import_(ctx: click.Context, /, file: str, input_shape: Any = None) -> None:
    """Write the network in FILE as a convcalc YAML spec to standard output.

    FILE is a model file whose suffix convcalc reads (.onnx needs `pip install convcalc[onnx]`);
    any spec convcalc reads (YAML, a layer string, a bundled name) is written out the same way.
    The YAML gives the same report as the file: `convcalc table FILE`. A TorchScript file (.pt)
    records no input size: --input gives it.

    \b
    Examples:
      convcalc import model.onnx > model.yaml
      convcalc import model.onnx | convcalc table -
      convcalc import resnet18.pt --input 224x224x3 > resnet18.yaml
    """
    from ..importers.recover import recover
    from ..load import load
    from ..spec.model import with_input
    from ..spec.yaml_writer import to_yaml

    ctx.meta["convcalc.spec"] = file  # named in an internal-error message
    network = with_input(load(file, input=input_shape), input_shape)
    header = [f"imported by convcalc import from {network.origin or file}",
              "names are the file's (made safe for convcalc); 'from:' says which tensor a layer reads;",
              "branches that meet are blocks; a block repeated is one item with 'repeat:', its names in comments",
              *network.notes]  # what the reader noted (a Caffe layer its phase leaves out), said on stderr too
    for note in network.notes:
        _echo_quietly(f"warning: {network.origin or file}: {note}", err=True)
    click.echo(to_yaml(recover(network), header), nl=False)
