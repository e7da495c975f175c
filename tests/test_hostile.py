"""Hostile and broken input through the whole CLI: a located message and exit 2 (or a result),
never a traceback, never a hang. The fuzz tests run a bounded number of examples here; set
CONVCALC_FUZZ_EXAMPLES for a longer run on demand."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.cli import cli

EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def run(*args: str, input: "str | bytes | None" = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)


def assert_clean(result, codes=(0, 1, 2)) -> None:
    """Exit 0/1 with a result, or 2 with an 'error:' message; no traceback, no internal error."""
    assert result.exit_code in codes, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        assert "error" in result.output.lower()


def yaml_file(tmp_path: Path, text: "str | bytes", name: str = "spec.yaml") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


NET = "name: t\ninput: [32, 32, 3]\nlayers:\n"


@pytest.mark.parametrize("text, fragment", [
    ("", "empty spec"),
    ("\n\n   \n", "empty spec"),
    ("- conv: {filters: 8}\n", "should be a mapping"),
    ("just a scalar\n", "should be a mapping"),
    ("input: [32, 32, 3\n", "YAML syntax"),
    (NET + "\t- relu\n", "tabs"),
    (NET + "  - relu\ninput: [8, 8, 3]\n", "given twice"),
    (NET + "  - conv: !!python/object/apply:os.system ['true']\n", "tag"),
    (NET + "  - conv: {filters: 8, kernel: 3.5}\n", "whole number"),
    (NET + "  - conv: {filters: -8, kernel: 3}\n", "positive"),
    (NET + "  - conv: {filters: 0, kernel: 3}\n", "positive"),
    (NET + "  - conv: {filters: true, kernel: 3}\n", "boolean"),
    (NET + "  - conv: {filters: eight, kernel: 3}\n", "the string 'eight'"),
    (NET + "  - conv: {filters: " + "1" + "0" * 100 + ", kernel: 3}\n", "limit"),
    (NET + "  - conv: {filters: 8, kernel: 40}\n", "exceeds padded input"),
    (NET + "  - conv: {filters: 8, kernel: 3, groups: 2}\n", "groups 2 must divide"),
    (NET + "  - fc: 0\n", "positive"),
    (NET + "  - conv: {filters: 8, kernal: 3}\n", "did you mean 'kernel'"),
    (NET + "  - relu: null\n    repeat: 1000000000000\n", "limit"),
    (NET + "  - seq: [relu]\n    repeat: 999999\n  - seq: [relu, relu]\n    repeat: 999999\n", "more than"),
])
def test_bad_yaml_is_a_located_error(tmp_path, text, fragment):
    start = time.perf_counter()
    result = run("table", yaml_file(tmp_path, text))
    assert time.perf_counter() - start < 5  # a bound against hangs, not a benchmark
    assert_clean(result, codes=(2,))
    assert fragment in result.output, result.output


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = [NET.rstrip("\n"), "  - &l0 {seq: [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]}"]
    for i in range(1, 12):
        lines.append(f"  - &l{i} {{seq: [{', '.join([f'*l{i - 1}'] * 10)}]}}")
    start = time.perf_counter()
    result = run("table", yaml_file(tmp_path, "\n".join(lines) + "\n"))
    assert time.perf_counter() - start < 5
    assert_clean(result, codes=(2,))
    assert "more than 20,000 layers" in result.output


LISTING = "[8x8x3] INPUT\n"


@pytest.mark.parametrize("args, text, codes", [
    (["table", "8x8x3 conv" + "9" * 20_000], None, (2,)),  # was 8.5 s: every prefix tried as a kind
    (["table"], NET + "  - cnov" + "x" * 50_000 + "\n", (2,)),  # was > 60 s: did-you-mean on the whole word
    (["check"], LISTING + "[?] RELU1: " + "a" * 20_000 + "! 5\n", (2,)),  # was 30 s: regex backtracking
    (["check"], LISTING + "a" + " " * 30_000 + "\n[8x8x3] RELU1:\n", (0,)),  # prose; was 8.5 s
    (["check"], LISTING + "[?] CONV1: stride" + " " * 30_000 + "!\n", (2,)),
    (["check"], LISTING + "[?] CONV" + " " * 30_000 + "x1: 3 3x3 filters\n", (2,)),
    (["check", "vgg16", "--max-params", "1" + " " * 2000 + "!"], None, (2,)),  # was 15 s: cubic
    (["table", "8x8x3 " + "${" * 100_000], None, (2,)),  # was 16 s
    (["table"], NET + "  - conv" + "${" * 100_000 + "\n", (2,)),
])
def test_long_hostile_lines_finish_quickly_with_a_short_message(tmp_path, args, text, codes):
    if text is not None:
        args = [*args, yaml_file(tmp_path, text, "spec.txt" if text.startswith("[") else "spec.yaml")]
    start = time.perf_counter()
    result = run(*args)
    assert time.perf_counter() - start < 2  # a bound against hangs, not a benchmark
    assert_clean(result, codes=codes)
    assert max(map(len, result.output.splitlines())) < 400  # the line is quoted around the caret, not whole


@pytest.mark.parametrize("depth", [150, 10_000])
def test_deep_nesting_is_a_located_error(tmp_path, depth):
    # The promise: exit 2 at a located line of the file, no traceback. At 10,000 deep PyYAML
    # (6.0.4 and later) may stop the file before convcalc's own limit does, in its own words:
    # the message text is not asserted there, only where convcalc's limit is the one that acts.
    text = NET + "  - " + "{seq: [" * depth + "relu" + "]}" * depth + "\n"
    path = yaml_file(tmp_path, text)
    result = run("table", path)
    assert_clean(result, codes=(2,))
    assert f"{path}:4:" in result.output
    if depth == 150:
        assert "nested more than 100 deep" in result.output
    result = run("table", "8x8x1 " + "res(" * depth + "relu" + ")" * depth)
    assert_clean(result, codes=(2,))
    assert "<string>:1:" in result.output
    assert "nested more than 100 deep" in result.output  # the layer string is convcalc's own


@pytest.mark.parametrize("data, fragment", [
    (b"\x00\x01\x02\x03", "not a text file"),
    (b"input: [8, 8, 3]\nname: caf\xe9\n", "not valid UTF-8"),
    (os.urandom(64).replace(b"\x00", b"") + b"\xff\xfe", "error"),
])
def test_binary_and_invalid_utf8(tmp_path, data, fragment):
    result = run("table", yaml_file(tmp_path, data))
    assert_clean(result, codes=(2,))
    assert fragment in result.output


def test_missing_file_directory_and_stdin(tmp_path):
    assert_clean(run("table", str(tmp_path / "missing.yaml")), codes=(2,))
    assert_clean(run("table", str(tmp_path)), codes=(2,))
    assert_clean(run("table", "-", input=b"\xff\xfe garbage"), codes=(2,))
    assert_clean(run("table", "-", input=""), codes=(2,))


# --- fuzzing ---------------------------------------------------------------------------------

TOKENS = st.sampled_from([
    "conv", "conv8", "conv8k3", "k3x5", "s2", "p1", "psame", "pvalid", "d2", "g2", "nb", "maxpool", "avgpool2",
    "ceil", "fc10", "relu", "bn", "lrn", "gap", "flatten", "dropout0.5", "softmax", "conv3-64", "FC-4096",
    "res(", "cat(", "add(", "mul(", "(", ")", ")x2", "|", "->", ",", " ", "upsample2", "pad1", "shuffle2",
    "convtranspose4k4s2p1", "dwconv3p1", "sepconv8k3", "9" * 12, "x", "-", "×", "é", "\t", "\n",
])


@FUZZ
@given(st.sampled_from(["8x8x4 ", "32x32x3 ", "100x4 ", "", "0x0x0 ", "input (224 × 224 RGB image) "]),
       st.lists(TOKENS, max_size=12))
def test_fuzz_layer_strings(prefix, tokens):
    assert_clean(run("table", prefix + "".join(tokens), "--format", "json"))


SCALARS = st.one_of(st.integers(-3, 40), st.floats(allow_nan=True), st.booleans(), st.none(),
                    st.sampled_from(["same", "valid", "3x3", "relu", "$x", "${x*2}", "", "1e-4", "9" * 30]))
OPTIONS = st.dictionaries(st.sampled_from(["filters", "kernel", "stride", "padding", "dilation", "groups", "bias",
                                           "units", "p", "scale", "size", "kernal", "name"]),
                          st.one_of(SCALARS, st.lists(SCALARS, max_size=3)), max_size=4)
KINDS = st.sampled_from(["conv", "maxpool", "fc", "relu", "bn", "upsample", "pad", "add", "concat", "seq", "cnov"])


def yaml_scalar(value) -> str:
    import json

    return json.dumps(value) if not isinstance(value, float) or value == value else ".nan"


@st.composite
def structured_specs(draw) -> str:
    lines = ["input: " + draw(st.sampled_from(["[16, 16, 4]", "[8, 4]", "16x16x4", "{height: 8, width: 8, channels: 2}",
                                                "[0, 1]", "[]", "nope"])), "layers:"]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(KINDS)
        options = draw(OPTIONS)
        body = ", ".join(f"{k}: {yaml_scalar(v)}" for k, v in options.items())
        if kind in ("add", "concat"):
            lines.append(f"  - {kind}: [[conv4k3p1], []]")
        elif kind == "seq":
            lines.append("  - seq: [relu, conv4k1]")
        else:
            lines.append(f"  - {kind}: {{{body}}}")
        if draw(st.booleans()):
            lines.append(f"    repeat: {draw(st.sampled_from([1, 2, 0, -1, 10**15, 'two']))}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(structured_specs())
def test_fuzz_structured_yaml(text):
    assert_clean(run("table", "-", "--format", "json", input=text))


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("input: [8, 4]\nlayers:-{}relu conv!&*#'\"|>\t\\") + ["\x00", "é"]),
               max_size=120))
def test_fuzz_unstructured_yaml(text):
    assert_clean(run("table", "-", "--format", "csv", input=text))


def test_a_400_digit_number_and_crlf_line_endings(tmp_path):
    result = run("table", yaml_file(tmp_path, NET + "  - conv: {filters: " + "7" * 400 + ", kernel: 3}\n"))
    assert_clean(result, codes=(2,))
    assert "a number of 400 digits is larger than convcalc's limit" in result.output
    crlf = (NET + "  - cnov: {filters: 8, kernel: 3}\n").replace("\n", "\r\n")
    result = run("table", yaml_file(tmp_path, crlf.encode(), "crlf.yaml"))
    assert_clean(result, codes=(2,))
    assert "\r" not in result.output and "did you mean 'conv'" in result.output


# --- numbers written in text (issue 11, 2, 4 and 7) -----------------------------------------------

NINES = "9" * 5000


@pytest.mark.parametrize("args", [
    ("conv", "8x8x3", "-n", "²", "-k", "3"),  # str.isdigit() takes '²'; int() does not
    ("pool", "8x8x3", "-s", "²"),
    ("fc", "8x8x3", "-n", "²"),
    ("solve", "--in", "²", "-k", "3"),
    ("conv", "8x8x3", "-n", "8", "-k", "3x" + NINES),  # past Python's 4,300-digit limit
    ("table", "8x8x3 conv4k3x" + NINES),
    ("table", "8x8x3 conv4k" + NINES),
    ("table", "8x" + NINES + "x3 relu"),
    ("check", "vgg16", "--max-params", "1e" + NINES),
    ("check", "vgg16", "--max-params", NINES + "M"),
    ("table", "568x568x64 pad-88"),  # a dash read as nothing: silently pad 88, conv 8, fc 5
    ("table", "32x32x3 conv-8k3"),
    ("table", "8x8x3 fc-5"),
    ("table", "8x8x3 conv4k3p-1"),
    ("conv", "8x8x3", "-n", "4", "-k", "3", "-p", "-1"),
])
def test_numbers_in_text_are_usage_errors_in_milliseconds(args):
    start = time.perf_counter()
    result = run(*args)
    assert time.perf_counter() - start < 5  # generous: a hang, not a speed goal
    assert_clean(result, codes=(2,))


@pytest.mark.parametrize("item", [
    f"conv: {{filters: 8, kernel: '3x{NINES}'}}",
    f"conv: {{filters: 8, kernel: {NINES}}}",
    f"conv: {{filters: 8, kernel: 3}}\n    expect: {{rf: {NINES}}}",
    f"conv: {{filters: 8, kernel: 3}}\n    expect: {{macs: '1e{NINES}'}}",
    f"relu:\n    repeat: {NINES}",
    "conv: {filters: 8, kernel: 3, padding: 0x3}",  # YAML 1.1 hexadecimal, and the rest of the family
    "conv: {filters: 1_0, kernel: 3}",
    "conv: {filters: 1:30, kernel: 3}",
    "conv: {filters: 0o7, kernel: 3}",
    "conv: {filters: 0xA, kernel: 3}",
])
def test_numbers_in_yaml_are_read_by_convcalcs_rules(tmp_path, item):
    result = run("table", yaml_file(tmp_path, NET + f"  - {item}\n"), "--format", "csv")
    if "0x3" in item:  # padding 0 by 3 with a 3x3 kernel on 32x32: 30x36, not 36x36 (hexadecimal 3)
        assert_clean(result, codes=(0,))
        assert ",30x36x8," in result.output
        return
    assert_clean(result, codes=(2,))
    assert ":4:" in result.output or ":5:" in result.output  # located on the item's line


NUMBER_TEXT = st.lists(st.sampled_from(list("0123456789+-x.e_:o") + ["²", "３", "٣", "⁹", "9" * 450]),
                       min_size=1, max_size=12).map("".join)


@FUZZ
@given(NUMBER_TEXT, st.sampled_from(["table:conv{}k3", "table:conv8k{}", "table:conv8k3p{}", "table:fc{}",
                                     "table:(relu)x{}", "table:{}x8x3", "yaml:{}", "listing:{}", "cli:-n",
                                     "cli:-k", "cli:-p", "budget:{}"]))
def test_fuzz_numbers_in_every_reader(number, where):
    reader, _, form = where.partition(":")
    if reader == "table":
        text = form.format(number)
        result = run("table", text if text[0].isdigit() else "8x8x3 " + text, "--format", "json")
    elif reader == "yaml":
        result = run("table", "-", "--format", "json",
                     input=NET + f"  - conv: {{filters: {number}, kernel: {number}, padding: {number}}}\n")
    elif reader == "listing":
        result = run("check", "-", input=f"[8x8x3] INPUT\n[{number}] CONV1: {number} 3x{number} filters at "
                                             f"stride {number}, pad {number}\n")
    elif reader == "cli":
        options = {"-n": "8", "-k": "3", "-p": "0"}
        options[form] = number
        result = run("conv", "8x8x3", *[a for kv in options.items() for a in kv])
    else:
        result = run("check", "8x8x3 conv4k3", "--max-params", number)
    assert_clean(result)


# --- model files: Caffe's prototxt and Keras' JSON and .keras (issue 19) ----------------------

CAFFE_HEAD = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'


def caffe_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "deploy.prototxt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def timed_table(path: str):
    start = time.perf_counter()
    result = run("table", path)
    return result, time.perf_counter() - start


def test_caffe_layers_past_the_layer_limit_are_refused_at_the_first_too_many(tmp_path):
    from convcalc.limits import MAX_LAYERS

    relu = 'layer{type:"ReLU" bottom:"data" top:"data"}\n'
    result, took = timed_table(caffe_file(tmp_path, CAFFE_HEAD + relu * (MAX_LAYERS + 1)))
    assert_clean(result, codes=(2,))
    assert f"more than {MAX_LAYERS:,} layers" in result.output
    assert f":{MAX_LAYERS + 3}:1:" in result.output  # the first layer past it, located
    assert took < 2


def test_caffe_scale_layers_count_as_two_toward_the_limit(tmp_path, monkeypatch):
    """A Scale with bias is two convcalc layers: the limit holds the spec, not the file's layer count."""
    import convcalc.importers.caffe as caffe

    monkeypatch.setattr(caffe, "MAX_LAYERS", 3)
    scale = 'layer{type:"Scale" bottom:"data" top:"data" scale_param{bias_term:true}}\n'
    result = run("table", caffe_file(tmp_path, CAFFE_HEAD + scale * 2))
    assert_clean(result, codes=(2,))
    assert "more than 3 layers" in result.output and ":4:12:" in result.output  # at its type


@pytest.mark.parametrize("body", [
    "a: 1\n",                 # tiny fields
    "a {}\n",                 # empty messages
    "a: [" + "1," * 200 + "1]\n",  # list items, each a field
])
def test_caffe_fields_past_the_field_limit_are_refused_while_reading(tmp_path, monkeypatch, body):
    import convcalc.importers.prototxt as prototxt

    monkeypatch.setattr(prototxt, "MAX_PROTOTXT_FIELDS", 1000)
    result = run("table", caffe_file(tmp_path, CAFFE_HEAD + body * 2000))
    assert_clean(result, codes=(2,))
    assert "more than 1,000 fields" in result.output and "deploy.prototxt:" in result.output


@pytest.mark.parametrize("body", ["a" * 8_000_000, "\\\\a" * 2_000_000, '\\"' * 2_000_000])
def test_caffe_long_strings_are_read_in_bounded_steps(tmp_path, body):
    """8 MB strings (plain, or every character escaped): one pass, no per-character backtracking
    stack (memory: benchmarks/bench_hostile.py)."""
    result, took = timed_table(caffe_file(tmp_path, CAFFE_HEAD + 'name: "' + body + '"\n'))
    assert_clean(result, codes=(0,))
    assert took < 2


@pytest.mark.parametrize("text, fragment", [
    ('name: "abc\n', ":3:7: a quoted string is not closed"),
    ('name: "ab\\\n"', ":3:7: a quoted string is not closed"),
    ('name: "' + "\\a" * 5000 + "\n", ":3:7: a quoted string is not closed"),  # past one step of escapes
    ("name: \"ab\\", ":3:7: a quoted string is not closed"),
])
def test_caffe_unclosed_strings_are_located(tmp_path, text, fragment):
    result = run("table", caffe_file(tmp_path, CAFFE_HEAD + text))
    assert_clean(result, codes=(2,))
    assert fragment in result.output


def keras_sequential(relus: int, first_shape: str = "8") -> str:
    relu = '{"class_name": "ReLU", "config": {"name": "r%d"}}'
    return ('{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", '
            '"config": {"name": "in", "batch_input_shape": [null, %s, 8, 3]}}' % first_shape
            + "".join(", " + relu % i for i in range(relus)) + "]}}")


def keras_zip(path: Path, config: str, extra: int = 0) -> str:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", config)
        for i in range(extra):
            z.writestr(f"assets/{i}", b"")
    return str(path)


@pytest.mark.parametrize("number", ["9" * 5000, "-" + "9" * 4301, "1." + "9" * 5000, "9" * 1001])
@pytest.mark.parametrize("suffix", [".json", ".keras"])
def test_keras_numbers_past_the_digit_limit_are_located_errors(tmp_path, number, suffix):
    """Python's int() raises ValueError past 4,300 digits (once exit 3, an internal error): the
    length is checked first, as every reader's, and the number shown where it is written."""
    text = keras_sequential(1, number)
    path = keras_zip(tmp_path / "m.keras", text) if suffix == ".keras" else str(tmp_path / "m.json")
    if suffix == ".json":
        Path(path).write_text(text)
    result = run("table", path)
    assert_clean(result, codes=(2,))
    assert f":1:{text.index(number) + 1}: a number of {len(number):,} characters" in result.output


def test_a_truncated_keras_file_is_called_a_damaged_zip(tmp_path):
    whole = Path(keras_zip(tmp_path / "whole.keras", keras_sequential(50)))
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    result = run("table", str(cut))
    assert_clean(result, codes=(2,))
    assert "damaged or truncated zip" in result.output and "UTF-8" not in result.output


def test_a_keras_zip_of_too_many_entries_is_refused_before_it_is_listed(tmp_path):
    from convcalc.importers.keras_file import MAX_ZIP_ENTRIES

    path = keras_zip(tmp_path / "many.keras", keras_sequential(1), extra=MAX_ZIP_ENTRIES)
    result = run("table", path)
    assert_clean(result, codes=(2,))
    assert f"a zip of {MAX_ZIP_ENTRIES + 1:,} entries" in result.output
    assert run("table", keras_zip(tmp_path / "few.keras", keras_sequential(1), extra=5)).exit_code == 0


def test_keras_layers_past_the_layer_limit_are_refused_before_any_is_read(tmp_path):
    from convcalc.limits import MAX_LAYERS

    path = tmp_path / "m.json"
    path.write_text(keras_sequential(MAX_LAYERS + 1))
    result, took = timed_table(str(path))
    assert_clean(result, codes=(2,))
    assert f"more than convcalc's limit of {MAX_LAYERS:,}" in result.output
    assert f":{MAX_LAYERS + 2}:1:" in result.output and f"'r{MAX_LAYERS}'" in result.output
    assert took < 2


def test_keras_layers_made_count_toward_the_limit(tmp_path, monkeypatch):
    """A folded activation makes a second layer: the limit holds the spec, not the list."""
    import convcalc.importers.keras as keras

    monkeypatch.setattr(keras, "MAX_LAYERS", 3)
    dense = '{"class_name": "Dense", "config": {"name": "d%d", "units": 4, "activation": "relu"}}'
    text = keras_sequential(0)[:-len("]}}")] + "".join(", " + dense % i for i in range(2)) + "]}}"
    path = tmp_path / "m.json"
    path.write_text(text)
    result = run("table", str(path))
    assert_clean(result, codes=(2,))
    assert "more than 3 layers" in result.output and ":3:1:" in result.output and "'d1'" in result.output
