"""The command line through Click's CliRunner: exit codes, exact output, located errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.spec import catalog

ALEXNET_STRING = ("227x227x3 conv96k11s4 maxpool3s2 lrn conv256k5p2 maxpool3s2 lrn conv384k3p1 conv384k3p1 "
                  "conv256k3p1 maxpool3s2 fc4096 fc4096 fc1000")


def run(*args: str, input: "str | bytes | None" = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def assert_located_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- the main job ------------------------------------------------------------------------


def test_table_vgg16_shows_published_totals():
    result = run("table", "vgg16", "--width", "120")
    assert result.exit_code == 0
    assert "VGG-16" in result.stdout
    assert "138,357,544 params" in result.stdout
    assert "15,470,264,320 MACs" in result.stdout
    total_row = next(line for line in result.stdout.splitlines() if line.strip().startswith("total"))
    assert total_row.split()[-4:] == ["1000", "138M", "15.5G", "28.8M"]


def test_table_alexnet_json_has_exact_totals_and_stable_shape():
    result = run("table", "alexnet", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert set(data) == {"schema_version", "convcalc_version", "network", "input", "output", "outputs", "conventions",
                         "layers", "blocks", "totals", "memory", "incomplete", "warnings"}
    assert data["totals"]["params"] == 62_378_344
    assert data["totals"]["macs"] == 1_135_256_096
    assert data["totals"]["flops"] == 2 * 1_135_256_096
    assert data["input"]["shape"] == [227, 227, 3]
    conv1 = data["layers"][0]
    assert (conv1["name"], conv1["output"]["text"], conv1["params"]) == ("conv1", "55x55x96", 34_944)
    assert conv1["location"]["file"] == "architectures/alexnet.yaml"
    assert conv1["options"]["kernel"] == [11]
    assert data["conventions"]["dtype"] == "float32" and data["conventions"]["batch"] == 1
    assert data["warnings"] == []


def test_json_gives_a_merge_every_input():
    result = run("table", "28x28x192 cat(conv64k1 | conv96k1 conv128k3p1 | maxpool3s1p1 conv32k1)", "-f", "json")
    layers = json.loads(result.stdout)["layers"]
    concat = next(layer for layer in layers if layer["kind"] == "concat")
    assert [s["text"] for s in concat["inputs"]] == ["28x28x64", "28x28x128", "28x28x32"]
    assert concat["input"] == concat["inputs"][0] and concat["output"]["text"] == "28x28x224"
    conv = layers[0]
    assert conv["inputs"] == [conv["input"]]  # a layer reads one tensor


def test_layer_string_from_the_issue():
    result = run("table", ALEXNET_STRING, "--format", "csv")
    assert result.exit_code == 0
    rows = result.stdout.strip().splitlines()[1:]
    outputs = [row.split(",")[4] for row in rows]
    assert outputs == ["55x55x96", "27x27x96", "27x27x96", "27x27x256", "13x13x256", "13x13x256", "13x13x384",
                       "13x13x384", "13x13x256", "6x6x256", "4096", "4096", "1000"]


def test_markdown_from_a_yaml_file(tmp_path: Path):
    spec = tmp_path / "my_net.yaml"
    spec.write_text("name: my_net\ninput: [32, 32, 3]\nlayers:\n  - conv: {filters: 10, kernel: 5, padding: 2}\n"
                    "  - relu\n  - fc: 10\n")
    result = run("table", str(spec), "--format", "markdown")
    assert result.exit_code == 0
    assert "| 1 | conv1 | CONV 10 5x5 s1 p2 | 32x32x10 | 760 | 768,000 | 10,240 | 5 j1 |  |" in result.stdout
    assert "| 3 | fc2 | FC 10 | 10 | 102,410 | 102,400 | 10 | all | flattens 32x32x10 |" in result.stdout


def test_dtype_and_batch_scale_activation_bytes():
    plain = json.loads(run("table", "lenet5", "--format", "json").stdout)["totals"]
    half = json.loads(run("table", "lenet5", "--format", "json", "--dtype", "float16", "--batch", "8").stdout)["totals"]
    assert half["activation_bytes"] == plain["activations"] * 2 * 8
    assert half["param_bytes"] == plain["params"] * 2
    assert plain["activation_bytes"] == plain["activations"] * 4


def test_count_flops_doubles_the_column():
    result = run("table", "lenet5", "--count", "flops", "--format", "markdown")
    assert "| FLOPs |" in result.stdout
    assert "**833,040**" in result.stdout  # 2 x 416,520


def test_stdin_reads_yaml_or_a_layer_string():
    yaml_result = run("table", "-", "--format", "csv", input="input: [7, 7, 1]\nlayers:\n  - conv: {filters: 1, kernel: 3}\n")
    assert yaml_result.exit_code == 0 and ",5x5x1," in yaml_result.stdout
    string_result = run("table", "-", "--format", "csv", input="7x7x1 conv1k3s2\n")
    assert string_result.exit_code == 0 and ",3x3x1," in string_result.stdout


def test_list_has_one_line_per_architecture():
    result = run("list")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:5] == ["name", "aliases", "input", "params", "MACs"]
    assert len(lines) == 1 + len(catalog.names())
    vgg = next(line for line in lines if line.startswith("vgg-d "))
    assert vgg.split()[1:5] == ["vgg16", "224x224x3", "138M", "15.5G"]


def test_list_json_carries_exact_figures():
    data = json.loads(run("list", "--format", "json").stdout)
    by_name = {a["name"]: a for a in data["architectures"]}
    assert by_name["alexnet-torchvision"]["params"] == 61_100_840
    assert by_name["vgg-e"]["aliases"] == ["vgg19"]


def test_show_prints_the_bundled_yaml():
    result = run("show", "VGG16")
    assert result.exit_code == 0
    assert result.stdout == (Path(catalog.directory()) / "vgg-d.yaml").read_text(encoding="utf-8")


def test_show_unknown_name_suggests():
    assert_located_error(run("show", "vgg61"), 2, "no bundled architecture 'vgg61'", "did you mean")


def test_kinds_lists_every_kind_with_its_letters():
    result = run("kinds")
    assert result.exit_code == 0
    assert "conv (also conv2d, convolution): convolution" in result.stdout
    assert "    kernel [k]:" in result.stdout
    # the words a block may not be called, which are not layer kinds (issue 11)
    assert "add, sum, residual: merges the branches" in result.stdout
    assert "seq, sequential, group, stage: a chain" in result.stdout


# --- bad input: a located message, the right exit code, never a traceback ---------------


def test_yaml_typo_in_layer_kind(tmp_path: Path):
    spec = tmp_path / "typo.yaml"
    spec.write_text("name: t\ninput: [32, 32, 3]\nlayers:\n  - cnov: {filters: 8, kernel: 3}\n")
    assert_located_error(run("table", str(spec)), 2, f"{spec}:4:5:", "unknown layer 'cnov'",
                         "did you mean 'conv'?", "^^^^")


def test_bad_token_in_a_string_points_at_its_column():
    result = run("table", "32x32x3 conv8k3 cnov8k3")
    assert_located_error(result, 2, "<string>:1:17:", "did you mean 'conv'?")
    assert "  32x32x3 conv8k3 cnov8k3\n                  ^^^^\n" in result.stderr


def test_kernel_bigger_than_its_input(tmp_path: Path):
    spec = tmp_path / "toobig.yaml"
    spec.write_text("name: t\ninput: [5, 5, 3]\nlayers:\n  - conv: {filters: 8, kernel: 7}\n")
    assert_located_error(run("table", str(spec)), 2, ":4:5:", "layer 1 'conv1'", "kernel 7 exceeds padded input 5")


def test_strict_fails_a_stride_that_does_not_fit():
    relaxed = run("table", "7x7x1 conv1k3s3")
    assert relaxed.exit_code == 0
    assert "(7 − 3)/3 + 1 = 2.33" in relaxed.stdout
    strict = run("table", "7x7x1 conv1k3s3", "--strict")
    assert strict.exit_code == 1
    assert "--strict: 1 layer with a stride that does not fit" in strict.stderr
    assert "2x2x1" in strict.stdout  # the table is still printed


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty spec"),
        (b"input: [32, 32, 3\n", "YAML syntax"),
        (b"\x00\x01\x02binary", "not a text file"),
        (b"name: caf\xe9\n", "not valid UTF-8"),
        (b"- just\n- a list\n", "should be a mapping"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, fragment: str):
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(content)
    assert_located_error(run("table", str(spec)), 2, fragment)


def test_missing_file_and_directory(tmp_path: Path):
    assert_located_error(run("table", str(tmp_path / "nope.yaml")), 2, "no such file")
    assert_located_error(run("table", str(tmp_path)), 2, "is a directory")


def test_unknown_name_suggests_a_bundled_one():
    assert_located_error(run("table", "vgg61"), 2, "did you mean 'vgg16' (vgg-d)?")


@pytest.mark.parametrize("command", ["table", "show"])
@pytest.mark.parametrize("typed, offered, not_offered", [
    # issue 19: 'table vgg' offered nothing; a family is offered by what its names start with
    ("vgg", ["'vgg-d' (vgg16)", "'vgg-a' (vgg11)", "'vgg-e' (vgg19)"], ["resnet"]),
    ("resnet", ["'resnet18'", "'resnet50' (resnet50-v1.5)", "'fcn_resnet50'"], ["vgg"]),
    ("mobilenet", ["'mobilenet_v1'", "mobilenet_v2"], []),
])
def test_a_family_name_offers_the_names_that_start_with_or_contain_it(command, typed, offered, not_offered):
    result = run(command, typed)
    assert_located_error(result, 2, "did you mean", *offered)
    assert not any(word in result.stderr for word in not_offered)


def test_names_that_start_with_what_was_typed_come_before_those_that_contain_it():
    stderr = run("table", "resnet").stderr
    assert -1 < stderr.index("'resnet50-v1'") < stderr.index("'fcn_resnet50'")


def test_a_name_like_nothing_bundled_offers_nothing():
    assert "did you mean" not in run("table", "xyzzy").stderr


def test_json_format_reports_errors_as_json_too():
    result = run("table", "32x32x3 cnov8k3", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["error"] == "SpecError"
    assert error["location"] == {"file": "<string>", "line": 1, "column": 9}


def test_usage_errors_exit_2():
    assert run("table").exit_code == 2
    assert run("table", "vgg16", "--format", "xml").exit_code == 2
    assert run("table", "vgg16", "--batch", "0").exit_code == 2


def test_internal_error_is_one_line_not_a_traceback(monkeypatch):
    import convcalc.analysis.engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(convcalc.analysis.engine, "analyse", broken)
    result = run("table", "lenet5")
    assert result.exit_code == 3
    assert "internal error while reading 'lenet5': RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.output


def test_internal_error_elsewhere_names_the_command_line(monkeypatch):
    import convcalc.tools.lookup

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(convcalc.tools.lookup, "lookup", broken)
    result = run("conv", "227x227x3", "-n", "96", "-k", "11")
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error in 'convcalc conv 227x227x3 -n 96 -k 11': ZeroDivisionError: boom")
    assert "Traceback" not in result.output


# --- help and entry points ----------------------------------------------------------------


COMMAND_NAMES = cli.list_commands(click.Context(cli))  # imports every command module


def test_every_command_is_registered_where_the_group_looks_for_it():
    from convcalc.cli import COMMANDS

    assert set(COMMAND_NAMES) == set(COMMANDS)


@pytest.mark.parametrize("command", [None, *COMMAND_NAMES])
def test_every_command_has_help_with_an_example(command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "convcalc " in result.stdout


def test_table_help_states_the_conventions_and_exit_codes():
    text = run("table", "--help").stdout
    for fragment in ("weights + biases", "multiply-accumulates", "FLOPs = 2·MACs", "Exit codes: 0 ok, 1"):
        assert fragment in text


def test_python_dash_m_works():
    done = subprocess.run([sys.executable, "-m", "convcalc", "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == "convcalc, version 0.1.0"


HUGE = "9" * 5000  # more digits than Python converts to int by default


@pytest.mark.parametrize("spec", [f"8x8x3 conv{HUGE}k3", f"{HUGE}x3 relu", f"8x8x3 (relu)x{HUGE}",
                                  f"8x8x3 conv2k{HUGE}", f"8x8x3 conv{HUGE}-3", "8x8x3 (relu)x1000000000",
                                  "1000000000x1000000000x3 conv8k3s1000000000"])
def test_absurd_numbers_are_located_errors_or_exact_answers(spec):
    result = run("table", spec, "--format", "json")
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("error: <string>:1:")
        assert len(result.stderr.splitlines()[1]) < 200  # a long line is shown around the error


def test_huge_integer_in_yaml(tmp_path: Path):
    spec = tmp_path / "big.yaml"
    spec.write_text(f"input: [8, 8, 3]\nlayers:\n  - conv: {{filters: {HUGE}, kernel: 3}}\n")
    assert_located_error(run("table", str(spec)), 2, ":3:21:")


def test_each_command_help_shows_only_what_applies_to_it():
    fc_help = run("fc", "--help").stdout
    assert "--strict" not in fc_help and "F·F·D1" not in fc_help and "params = N·K + K" in fc_help
    pool_help = run("pool", "--help").stdout
    assert "F·F·D1·K + K" not in pool_help and "params = 0" in pool_help and "--strict" in pool_help
    conv_help = run("conv", "--help").stdout
    assert "params = F·F·D1·K + K" in conv_help and "--strict" in conv_help
    seed = next(line for line in run("verify", "--help").stdout.splitlines() if line.strip().startswith("--seed"))
    assert "9223372036854775808" not in seed and "--seed N" in seed
    assert run("fc", "4096", "-n", "10", "--strict").exit_code == 2  # not an option of fc


# --- a shape that looks channels-first is read as written, with a word ------------------------------


@pytest.mark.parametrize("dims, warned", [
    ((3, 32, 32), True), ((1, 28, 28), True), ((3, 480, 640), True), ((4, 16, 16), True),
    ((32, 32, 3), False), ((224, 224, 3), False), ((4, 4, 512), False), ((1, 1, 1024), False),
    ((8, 64, 64), False), ((1, 13, 256), False), ((3, 8, 8), False), ((32, 16), False), ((4, 4), False),
    ((4096,), False),
])
def test_the_channels_first_rule(dims, warned):
    from convcalc.shape import channels_first_note

    note = channels_first_note(dims)
    assert bool(note) == warned
    if warned:
        meant = "x".join(map(str, (*dims[1:], dims[0])))
        assert note.endswith(f"did you mean {meant}?") and "channels-first" in note


def test_two_equal_sizes_say_they_read_as_a_signal():
    """'32x32' is a 1-D signal 32 long with 32 channels, as written: most likely an image without
    its channel count, so the note says how it was read and what an image would be."""
    from convcalc.shape import channels_first_note

    assert channels_first_note((32, 32)) == ("32x32 is read as a 1-D signal 32 long with 32 channels (sizes first, "
                                             "channels last); a 32x32 image with one channel is 32x32x1")
    data = json.loads(run("conv", "32x32", "-n", "10", "-k", "5", "--format", "json").stdout)
    assert data["notes"][0]["code"] == "one-axis"


CF = "3x32x32 looks channels-first (C×H×W, as PyTorch prints shapes)"


def test_a_lookup_says_how_a_channels_first_shape_was_read():
    text = run("conv", "3x32x32", "-n", "10", "-k", "5", "-p", "2")
    assert text.exit_code == 0
    assert text.stdout.splitlines()[1] == (f"  ⚠ {CF}; convcalc reads sizes first and channels last, so this is "
                                           "H=3, W=32, C=32: did you mean 32x32x3?")
    data = json.loads(run("pool", "3x32x32", "--format", "json").stdout)
    assert data["notes"][0]["code"] == "channels-first" and CF in data["notes"][0]["text"]
    assert "channels-first" not in run("conv", "32x32x3", "-n", "10", "-k", "5").stdout


@pytest.mark.parametrize("command", ["table", "verify", "check"])
def test_every_reader_warns_about_a_channels_first_input(tmp_path: Path, command):
    spec = tmp_path / "cf.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers: [relu]\n")
    listing = tmp_path / "cf.txt"
    listing.write_text("[3x32x32] INPUT\n[3x32x32] RELU1\n")
    for source, where in ((str(spec), f"{spec}: "), ("3x32x32 relu", ""), (str(listing), f"{listing}: ")):
        result = run(command, source, "--format", "json")
        assert result.exit_code == 0, result.output
        assert result.stderr.startswith(f"warning: {where}{CF}"), result.stderr
        json.loads(result.stdout)  # the document is untouched
    assert "warning" not in run(command, "32x32x3 relu").stderr
