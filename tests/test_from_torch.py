"""A PyTorch module read through torch.export: torchvision's models as recorded
(tests/fixtures/torch, written by benchmarks/record_torch_exports.py with torch's own parameter
count), read without torch, and small modules traced live where torch is installed.

The expected figures never come from convcalc: params are ``sum(p.numel())`` as torch gave it
when recording; MACs are counted here from the recorded graph alone (each conv's output elements
times its weight's fan-in, each linear's times its input features, each product of two
activations M·K·N, attention's two products), and equal the bundled specs, written by hand from
torchvision's sources, where convcalc has the same network.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from convcalc.analysis.engine import analyse
from convcalc.errors import SpecError
from convcalc.importers.torch_export import read_program
from convcalc.importers.torch_record import Replayed
from convcalc.load import load
from convcalc.values import replace
from tests.test_hostile import assert_clean, run

FIXTURES = Path(__file__).parent / "fixtures" / "torch"
RECORDED = sorted(p.name[: -len(".json.gz")] for p in FIXTURES.glob("*.json.gz"))

BUNDLED = {"resnet18": "resnet18", "resnet50": "resnet50", "vgg16": "vgg-d", "mobilenet_v2": "mobilenet_v2",
           "densenet121": "densenet121", "convnext_tiny": "convnext_tiny", "vit_b_16": "vit_b_16",
           "swin_t": "swin_t", "shufflenet_v2_x1_0": "shufflenet_v2_x1_0"}


def recording(name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(gzip.decompress((FIXTURES / f"{name}.json.gz").read_bytes()))
    return data


def replayed(name: str) -> Any:
    program = Replayed(recording(name))
    return read_program(program, program.model, program.trainable, program.aliases)


def macs_of_graph(data: Dict[str, Any]) -> int:
    """Multiply-accumulates counted from the recorded graph alone, as the textbook counts them."""
    nodes = {n[1]: n for n in data["nodes"]}

    def shape(ref: Any) -> list:
        return nodes[ref["node"]][5]

    total = 0
    for op, _, target, args, kwargs, out, _ in data["nodes"]:
        name = target.split(".")[1] if target.startswith("aten.") else target
        if name in ("conv1d", "conv2d", "conv3d"):
            total += math.prod(out) * math.prod(shape(args[1])[1:])
        elif name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):  # each input unit to K·k outputs
            total += math.prod(shape(args[0])) * math.prod(shape(args[1])[1:])
        elif name == "linear":
            total += math.prod(out) * shape(args[1])[1]
        elif name in ("matmul", "bmm", "mm"):
            total += math.prod(out) * shape(args[0])[-1]
        elif name == "scaled_dot_product_attention":
            q, k = shape(args[0]), shape(args[1])
            total += 2 * math.prod(q) * k[-2]
    return total


def test_every_model_of_the_issue_is_recorded():
    assert set(RECORDED) >= {*BUNDLED, "efficientnet_b0", "fasterrcnn_mobilenet_v3_large_fpn.backbone",
                             "fasterrcnn_resnet50_fpn.backbone"}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_models_count_exactly_what_torch_holds(name):
    data = recording(name)
    report = analyse(replayed(name))
    assert report.unknown_ops == {}
    assert report.totals.params == data["torch"]["params"]
    assert report.totals.macs == macs_of_graph(data)
    # no parameter unread or counted otherwise than held; a shared one (the small modules tied and
    # twice) is said, and counted once
    assert all("counted once" in n for n in report.spec.notes)
    assert bool(report.spec.notes) == (name in ("tied", "twice"))


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_recorded_models_equal_the_bundled_specs(name):
    """Params and MACs as the spec written by hand from torchvision's sources: attention's
    matmuls, Swin's window attention and relative bias, ConvNeXt's layer scale all counted."""
    ours, bundled = analyse(replayed(name)), analyse(load(BUNDLED[name]))
    assert (ours.totals.params, ours.totals.macs) == (bundled.totals.params, bundled.totals.macs)
    assert ours.output == bundled.output


def test_a_detection_backbone_gives_the_bundled_fpn_s_five_outputs():
    """torchvision's ResNet-50 FPN built with weights=None has nn.BatchNorm2d where the bundled
    spec (the pretrained build) has FrozenBatchNorm2d: the same MACs and outputs, and γ, β as
    params (2 per channel of the body's 26,560) where the frozen one keeps them as buffers."""
    ours, bundled = analyse(replayed("fasterrcnn_resnet50_fpn.backbone")), analyse(load("resnet50_fpn"))
    assert ours.totals.macs == bundled.totals.macs
    assert [o.shape for o in ours.outputs] == [o.shape for o in bundled.outputs]
    gamma_beta = sum(r.params for r in ours.layers if r.layer.kind == "batchnorm")
    assert ours.totals.params == bundled.totals.params + gamma_beta
    assert gamma_beta == 2 * 26_560


@pytest.mark.parametrize("name, rows", [
    ("resnet18", ["conv1", "bn1", "layer1.0.conv1", "layer1.0.relu", "layer1.0.relu_2", "layer4.1.bn2", "fc"]),
    ("vit_b_16", ["conv_proj", "encoder.layers.encoder_layer_0.ln_1", "encoder.layers.encoder_layer_11.mlp.3",
                  "heads.head"]),
    ("convnext_tiny", ["features.1.0.block.0", "features.1.0.block.3", "classifier.2"]),
])
def test_rows_carry_the_module_names_print_model_shows(name, rows):
    names = [r.full_name for r in analyse(replayed(name)).layers]
    assert set(rows) <= set(names)


def test_every_weighted_row_is_named_after_its_module():
    """Each conv and linear row's name is the module path the program recorded for it."""
    for name in ("resnet50", "swin_t", "efficientnet_b0"):
        data = recording(name)
        paths = {n[6] for n in data["nodes"] if n[2] in ("aten.conv2d.default", "aten.linear.default")}
        weighted = [r.full_name for r in analyse(replayed(name)).layers if r.layer.kind in ("conv", "fc", "pwlinear")]
        assert weighted and all(w in paths or w.rsplit(".", 1)[0] in paths for w in weighted), name


def test_convnext_permutes_around_its_layer_norm_are_no_rows():
    """permute(0, 2, 3, 1) -> LayerNorm -> Linear -> permute(0, 3, 1, 2): channels last is what
    convcalc holds, so neither permute is a row."""
    kinds = [r.layer.kind for r in analyse(replayed("convnext_tiny")).layers]
    assert "permute" not in kinds


@pytest.mark.parametrize("name, holder, sharer, shared", [
    ("tied", "a", "b", 8 * 8),  # b.weight is a.weight; b keeps a bias of its own
    ("twice", "a", "a_2", 8 * 8 + 8),  # nn.Linear(8, 8) applied twice: all of it
])
def test_a_shared_parameter_is_counted_once_where_it_is_first_read(name, holder, sharer, shared):
    """model.parameters() de-duplicates a tensor two layers read: so do the totals, the JSON and
    a plan's parameters, gradients and optimizer state; the second row says where it is counted."""
    from convcalc import api

    data = recording(name)
    report = api.Report(analyse(replayed(name)))
    torch_params = data["torch"]["params"]
    rows = {r.full_name: r for r in report.result.layers}
    row = rows[sharer]
    assert row.params == row.layer.params(row.input) - shared and row.shared == shared
    assert [n.text for n in row.notes if n.code == "shared"] == [
        f"shares 'a.weight'{' and ' + repr('a.bias') if name == 'twice' else ''} with layer '{holder}': "
        f"counted there ({shared:,} params)"]
    assert report.totals.params == json.loads(report.to_json())["totals"]["params"] == torch_params
    peak = report.plan(optimizer="adam").to_dict()["peak_breakdown"]
    assert peak["parameters"] == peak["gradients"] == 4 * torch_params
    # the row that shares still makes its weights' gradient: the backward is as without sharing
    unshared = analyse(replace(replayed(name), layers=tuple(
        replace(n, shares=()) if hasattr(n, "shares") else n for n in replayed(name).layers)))
    assert api.Report(unshared).plan().backward_macs == report.plan().backward_macs
    assert unshared.totals.params == torch_params + shared


def test_a_recording_of_another_format_is_refused():
    with pytest.raises(ValueError):
        Replayed({"format": "something else"})


# --- without torch ---------------------------------------------------------------------------


def test_a_pt2_file_without_torch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as where it is not installed
    path = tmp_path / "model.pt2"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(SpecError) as e:
        load(str(path))
    assert "torch" in e.value.message and "convcalc[torch]" in (e.value.hint or "")
    result = run("table", str(path))
    assert_clean(result, codes=(2,))
    assert "needs torch" in result.output


def test_a_torchscript_file_without_torch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as where it is not installed
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04")
    result = run("table", str(path), "--input", "8x8x3")
    assert_clean(result, codes=(2,))
    assert "needs torch" in result.output and "convcalc[torch]" in result.output
    result = run("table", str(path))  # and without a size, that is said first: it is needed either way
    assert_clean(result, codes=(2,))
    assert "records no input size" in result.output and "--input" in result.output


def test_import_convcalc_does_not_import_torch():
    import subprocess

    code = "import sys, convcalc; assert 'torch' not in sys.modules and 'typing' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(Path(__file__).parent.parent)})


# --- live, where torch is installed ----------------------------------------------------------

torch_only = pytest.mark.skipif("torch" not in sys.modules and __import__("importlib").util.find_spec("torch") is None,
                                reason="torch is not installed (pip install '.[torch]'); the recordings above run")


def torch_module(kind: str) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Tied(nn.Module):  # one weight read by two linears
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 8)
            self.b.weight = self.a.weight

        def forward(self, x: Any) -> Any:
            return self.b(self.a(x))

    class Functional(nn.Module):  # what hooks miss: F.linear, a product, a mean over tokens, F.pad
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(16, 8))
            self.conv = nn.Conv2d(8, 8, 3)
            self.norm = nn.LayerNorm(16)

        def forward(self, x: Any) -> Any:  # x: N x 8 x 10 x 10
            y = self.conv(F.pad(x, (1, 2, 0, 1)))  # asymmetric: 11 x 13 -> 9 x 11
            t = y.flatten(2).transpose(1, 2)  # N x 99 x 8 tokens
            t = self.norm(F.linear(t, self.w))  # N x 99 x 16
            a = t @ t.transpose(1, 2)  # N x 99 x 99
            return (a @ t).mean(1)  # N x 16

    class Twice(nn.Module):  # one module applied twice: its weight and bias read by two rows
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(8, 8)

        def forward(self, x: Any) -> Any:
            return self.a(torch.relu(self.a(x)))

    class Odd(nn.Module):  # an operator convcalc has no rule for
        def forward(self, x: Any) -> Any:
            return torch.cumsum(x, dim=1)

    class Frozen(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.conv.requires_grad_(False)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: Any) -> Any:
            return self.fc(self.conv(x).mean((2, 3)))

    class Zoo(nn.Module):  # one of most kinds: a dilated depthwise conv, a transposed one, 1-D ...
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.gn = nn.GroupNorm(2, 8)
            self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
            self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
            self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.ap = nn.AvgPool2d(2)
            self.amp = nn.AdaptiveMaxPool2d((2, 3))
            self.act = nn.LeakyReLU(0.1)
            self.c1d = nn.Conv1d(4, 6, 3)
            self.bn1 = nn.BatchNorm1d(6)
            self.lin = nn.Linear(6 * 4, 5)

        def forward(self, x: Any) -> Any:  # x: N x 3 x 32 x 32
            y = self.act(self.gn(self.c1(x)))  # 8 x 16 x 16
            y = F.hardtanh(self.dw(y), -2, 2) + y
            y = F.interpolate(self.up(y), scale_factor=0.5, mode="bilinear")  # 4 x 32 x 32 -> 16 x 16
            y = F.gelu(self.ap(self.pool(y)))  # 4 x 8 x 8 -> 4 x 4 x 4
            z = self.amp(y)  # 4 x 2 x 3 (a max pool's values and indices)
            y = y * torch.sigmoid(y.mean((2, 3), keepdim=True))
            t = self.bn1(self.c1d(y.flatten(2)))  # 6 x 14
            t = F.silu(t[:, :, 2:6])  # 6 x 4
            u = torch.cat([t, t], dim=2)[:, :, ::2]  # 6 x 4
            return self.lin(u.flatten(1)), z

    return {"tied": Tied, "twice": Twice, "functional": Functional, "odd": Odd, "frozen": Frozen, "zoo": Zoo}[kind]()


@torch_only
def test_functional_calls_hooks_miss_are_counted():
    import convcalc

    model = torch_module("functional")
    report = convcalc.from_torch(model, (2, 8, 10, 10)).result  # the engine's Report under the API's
    assert report.unknown_ops == {} and report.batch == 2
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    conv = 9 * 11 * 8 * (8 * 9)
    linear, products = 99 * 16 * 8, 2 * 99 * 99 * 16
    assert report.totals.macs == conv + linear + products
    assert report.output.dims == (16,)
    kinds = [r.layer.kind for r in report.layers]
    assert "pad" in kinds and kinds.count("matmul") == 2 and "pwlinear" in kinds


@torch_only
def test_most_kinds_map_with_torch_s_own_shapes():
    import torch

    import convcalc

    model = torch_module("zoo").eval()
    report = convcalc.from_torch(model, (2, 3, 32, 32)).result  # the engine's Report under the API's
    assert report.unknown_ops == {} and report.spec.notes == ()
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        lin, pooled = model(torch.zeros(2, 3, 32, 32))
    c, hgt, wid = pooled.shape[1:]
    assert [o.shape.dims for o in report.outputs] == [tuple(lin.shape[1:]), (hgt, wid, c)]
    convs = 16 * 16 * 8 * 27 + 16 * 16 * 8 * 9 + 16 * 16 * 8 * (4 * 2 * 2) + 14 * 6 * (4 * 3)  # c1, dw, up, c1d
    assert report.totals.macs == convs + 5 * 24


@torch_only
@pytest.mark.parametrize("kind", ["tied", "twice"])
def test_a_shared_weight_is_counted_once_as_torch_counts_it(kind, tmp_path):
    import torch

    import convcalc

    model = torch_module(kind)
    report = convcalc.from_torch(model, (1, 8))
    torch_params = sum(p.numel() for p in model.parameters())
    assert report.totals.params == json.loads(report.to_json())["totals"]["params"] == torch_params
    assert any("'a.weight'" in n and "counted once" in n for n in report.result.spec.notes)
    assert [r.full_name for r in report.result.layers if r.shared] == [{"tied": "b", "twice": "a_2"}[kind]]
    assert report.plan(optimizer="adam").to_dict()["peak_breakdown"]["gradients"] == 4 * torch_params
    # saved by torch.export.save, a tied weight loads as two tensors over one storage: still one
    torch.export.save(torch.export.export(model, (torch.zeros(1, 8),)), str(tmp_path / "m.pt2"))
    saved = analyse(load(str(tmp_path / "m.pt2")))
    assert saved.totals.params == torch_params
    assert not any("read by no layer" in n for n in saved.spec.notes)
    written = run("import", str(tmp_path / "m.pt2"))  # the YAML keeps 'shares:'
    assert_clean(written, codes=(0,))
    assert "shares:" in written.stdout and convcalc.analyse(written.stdout).totals.params == torch_params


@torch_only
def test_a_frozen_weight_is_kept_apart():
    import convcalc

    report = convcalc.from_torch(torch_module("frozen"), (1, 3, 8, 8)).result  # the engine's Report under the API's
    assert [r.full_name for r in report.layers if r.frozen] == ["conv"]


@torch_only
def test_an_unknown_operator_is_listed_with_its_shape():
    import convcalc

    report = convcalc.from_torch(torch_module("odd"), (1, 3, 4, 4)).result  # the engine's Report under the API's
    assert report.unknown_ops == {"aten.cumsum.default": 1}
    assert report.output.dims == (4, 4, 3)


@torch_only
def test_a_saved_program_reads_as_the_live_module_and_as_its_recording(tmp_path):
    import torch

    import convcalc
    from convcalc.importers.torch_record import record

    model = torch_module("functional").eval()
    program = torch.export.export(model, (torch.zeros(1, 8, 10, 10),))
    torch.export.save(program, str(tmp_path / "m.pt2"))
    live = convcalc.from_torch_spec(model, (1, 8, 10, 10))
    saved = load(str(tmp_path / "m.pt2"))
    data = json.loads(json.dumps(record(program, {k: True for k in program.state_dict}, "m", [1, 8, 10, 10])))
    again = read_program(Replayed(data), "Functional", {})
    assert live.layers == saved.layers == again.layers
    result = run("table", str(tmp_path / "m.pt2"))
    assert_clean(result, codes=(0,))
    assert "conv" in result.output


@torch_only
@pytest.mark.parametrize("content", [b"not a zip", b"PK\x05\x06" + bytes(18), b""])
def test_a_damaged_pt2_file_is_a_located_error_without_a_traceback(tmp_path, content, capfd):
    path = tmp_path / "damaged.pt2"
    path.write_bytes(content)
    result = run("table", str(path))
    assert_clean(result, codes=(2,))
    assert "not a program saved by torch.export.save" in result.output
    assert "Traceback" not in capfd.readouterr().err  # torch's own log of it is kept from the terminal


@torch_only
def test_what_from_torch_cannot_read_is_a_clear_error():
    from torch import nn

    import convcalc

    class Two(nn.Module):
        def forward(self, a, b):  # two inputs
            return a + b

    with pytest.raises(SpecError, match="cannot trace Two|2 inputs"):
        convcalc.from_torch_spec(Two(), (1, 3, 4, 4))
    with pytest.raises(SpecError, match="not a batch and a sample"):
        convcalc.from_torch_spec(torch_module("odd"), (1, 0, 4))


@torch_only
def test_a_branch_on_a_value_export_refuses_is_traced_by_the_draft(capfd):
    """torch.export refuses ``if y.sum() > ...``; torch.export.draft_export takes the branch as
    the input of zeros does, and the note says so: the rows are the path taken, the guards none."""
    import torch
    from torch import nn

    import convcalc

    class Straight(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.f = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

        def forward(self, x: Any) -> Any:
            return self.f(self.c(x).mean((2, 3)))

    class Branchy(Straight):
        def forward(self, x: Any) -> Any:
            y = self.c(x)
            if y.abs().sum() > 1e9:  # never, on zeros: the path is Straight's
                y = y * 2
            return self.f(y.mean((2, 3)))

    with pytest.raises(Exception):
        torch.export.export(Branchy(), (torch.zeros(1, 3, 8, 8),))
    capfd.readouterr()
    branchy = convcalc.from_torch_spec(Branchy(), (1, 3, 8, 8))
    assert branchy.layers == convcalc.from_torch_spec(Straight(), (1, 3, 8, 8)).layers
    assert "draft_export" in branchy.notes[0] and "refused Branchy" in branchy.notes[0]
    assert capfd.readouterr().err == ""  # the refusal's log is said in the note, not on the terminal


@torch_only
def test_tokens_given_as_input_read_as_tokens():
    """A transformer block given N x L x C: the input is L x C, as aten holds it (no permute)."""
    from torch import nn

    import convcalc

    block = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0).eval()
    report = convcalc.from_torch(block, (1, 10, 16)).result  # the engine's Report under the API's
    assert report.spec.input.dims == (10, 16) and report.output.dims == (10, 16)
    assert report.totals.params == sum(p.numel() for p in block.parameters())
    projections, products, mlp = 10 * 16 * 16 * 4, 2 * 2 * 10 * 10 * 8, 2 * 10 * 16 * 32
    assert report.totals.macs == projections + products + mlp
    assert report.unknown_ops == {}


@torch_only
@pytest.mark.parametrize("how", ["trace", "script"])
def test_a_torchscript_file_reads_as_the_live_module(how, tmp_path):
    """torch.jit.save's file, converted by torch to an exported program at --input's size: the
    live module's figures, its weighted rows named by their module."""
    import warnings

    import torch
    from torch import nn

    import convcalc

    if how == "trace":
        model = torch_module("zoo").eval()
    else:  # torch.jit.script reads the source, whose annotations must be TorchScript's own
        model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                              nn.Flatten(), nn.Linear(32, 10)).eval()
    x = torch.zeros(1, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated
        scripted = torch.jit.trace(model, x) if how == "trace" else torch.jit.script(model)
    path = tmp_path / "zoo.pt"
    torch.jit.save(scripted, str(path))
    live = convcalc.from_torch(model, (1, 3, 32, 32)).result
    read = convcalc.analyse(path, input="32x32x3").result
    assert read.unknown_ops == {}
    assert read.totals.params == live.totals.params == sum(p.numel() for p in model.parameters())
    assert read.totals.macs == live.totals.macs
    assert [o.shape for o in read.outputs] == [o.shape for o in live.outputs]
    weighted = [(r.full_name, r.layer.kind, r.params) for r in read.layers if r.params]
    assert weighted == [(r.full_name, r.layer.kind, r.params) for r in live.layers if r.params]
    assert any("TS2EPConverter" in n for n in read.spec.notes)
    result = run("table", str(path), "--input", "32x32x3", "--format", "json")
    assert_clean(result, codes=(0,))
    assert json.loads(result.stdout)["totals"]["params"] == live.totals.params
    result = run("import", str(path), "--input", "32x32x3")  # as a YAML spec, the same figures
    assert_clean(result, codes=(0,))
    again = convcalc.analyse(result.stdout).result
    assert (again.totals.params, again.totals.macs) == (live.totals.params, live.totals.macs)


@torch_only
def test_what_is_not_a_torchscript_file_is_a_located_error(tmp_path):
    import torch

    state = tmp_path / "weights.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), str(state))  # weights only: no graph
    result = run("table", str(state), "--input", "2")
    assert_clean(result, codes=(2,))
    assert f"'{state}' is not a TorchScript file" in result.output and "from_torch" in result.output
    result = run("table", str(state))
    assert_clean(result, codes=(2,))
    assert "records no input size" in result.output


@torch_only
def test_a_pt2_file_cannot_make_convcalc_run_its_code(tmp_path):
    """torch.export.load unpickles with weights_only=False and pickle.loads: while convcalc loads,
    torch.load takes tensors only and every other unpickling is refused (a located exit 2)."""
    import io
    import pickle

    import torch

    from convcalc.importers.torch_export import RefusedPickle, no_code_from_the_file

    ran = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(ran), "w"))

    payload = io.BytesIO()
    torch.save({"w": Evil()}, payload)
    with no_code_from_the_file(torch):
        with pytest.raises(RefusedPickle):
            torch.load(io.BytesIO(payload.getvalue()), weights_only=False)  # asked for: still refused
        from torch.export.pt2_archive import _package
        with pytest.raises(RefusedPickle):
            _package.pickle.loads(pickle.dumps(Evil()))
    assert not ran.exists()
    assert torch.load is not None and _package.pickle is pickle  # put back after
    # and a program saved the usual way still reads
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3, 8, 8),)), str(tmp_path / "m.pt2"))
    assert analyse(load(str(tmp_path / "m.pt2"))).totals.params == 3 * 4 * 9 + 4
