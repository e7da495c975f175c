"""The input families that once broke the promise, fuzzed through every front door.

Issue 11 found internal errors (exit 3) and hangs in five families: Unicode digits such as '²'
where a number belongs, digit strings past Python's 4,300-digit conversion limit, very long
tokens, very long lines (regular-expression backtracking) and closed or full outputs. Each test
here draws hostile text from those families, puts it where a number, a name or a line belongs in
each input format (layer strings, YAML specs, cs231n listings, the lookups' and budgets' options)
and asserts the promise: exit 0, 1 or 2, never 3, never a traceback, and an answer within a
bound that only a hang would break.

The sweeps put every value of the families in every slot; the hypothesis tests combine slots,
shapes and formats at random, bounded for CI (CONVCALC_FUZZ_EXAMPLES, default 150 per test):
set it higher for a longer run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_hostile import assert_clean, run

EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
HANG = 3.0  # seconds: a bound against hangs, not a benchmark (the slow inputs took 8-90 s)

# Text that is a number to str.isdigit() or to int(), but not to convcalc.
UNICODE_DIGITS = ["²", "³", "¹", "٣", "１", "①", "߂", "𝟑", "3²", "²x3", "½", "Ⅻ"]
# Digit strings past the 4,300-digit limit, in every written form a number takes.
HUGE = ["9" * 5000, "3x" + "9" * 5000, "1e" + "9" * 5000, "9" * 5000 + "M", "0." + "9" * 5000,
        "1" + "0" * 4400, "9" * 5000 + "x3"]
# YAML 1.1 and C notations that must never silently become another number.
NOTATIONS = ["0x3", "0x10", "1_0", "1:30", "0o7", "010", "-1", "+3", "3.0", "1e3", "inf", ".nan", "-0"]
LONG = [" " * 30_000, "a" * 20_000, "${" * 20_000, "x" * 50_000, "(" * 5_000, "9" * 20_000, "é" * 10_000]

FAMILIES = UNICODE_DIGITS + HUGE + NOTATIONS + LONG
ANYTHING = st.sampled_from(FAMILIES)


def timed(*args: str, input: "str | None" = None):
    start = time.perf_counter()
    result = run(*args, input=input)
    elapsed = time.perf_counter() - start
    assert elapsed < HANG, (args[:2], [a[:40] for a in args], elapsed)
    return result


LOOKUP_SLOTS = {
    "conv": ["-n", "-k", "-s", "-p", "-d", "-g"],
    "pool": ["-k", "-s", "-p"],
    "fc": ["-n"],
    "solve": ["--in", "--out", "-k", "-s", "-p", "--max-kernel"],
}
LOOKUP_BASE = {"conv": ["8x8x3", "-n", "4", "-k", "3"], "pool": ["8x8x3", "-k", "2"], "fc": ["8x8x3", "-n", "10"],
               "solve": ["--in", "32", "-k", "5"]}


@pytest.mark.parametrize("command, flag", [(c, f) for c, flags in LOOKUP_SLOTS.items() for f in flags])
def test_every_lookup_option_with_every_family(command, flag):
    for value in FAMILIES:
        assert_clean(timed(command, *LOOKUP_BASE[command], flag, value))


@FUZZ
@given(st.sampled_from(["conv", "pool", "fc", "solve"]), st.data())
def test_lookup_options(command, data):
    """Every numeric option of every lookup, given hostile text: a located usage error or an answer."""
    base = list(LOOKUP_BASE[command])
    flag = data.draw(st.sampled_from(LOOKUP_SLOTS[command]))
    value = data.draw(ANYTHING)
    shape = data.draw(st.sampled_from(["", "8x8x3"] + ["8x8x" + v for v in UNICODE_DIGITS[:3] + HUGE[:1]]))
    args = [command] + base + [flag, value]  # a repeated flag: the last one counts
    if shape and command != "solve":
        args[1] = shape
    if data.draw(st.booleans()):
        args += ["--format", "json"]
    assert_clean(timed(*args))


@pytest.mark.parametrize("token", [
    "conv{}k3", "conv8k{}", "conv8k3s{}", "conv8k3p{}", "maxpool{}", "fc{}", "upsample{}", "pad{}",
    "adaptiveavgpool{}", "(relu)x{}", "{}",
])
def test_every_family_in_layer_tokens(token):
    for value in FAMILIES:
        assert_clean(timed("table", "8x8x4 " + token.format(value), "--format", "json"))


LAYER_TEMPLATES = [
    "conv{}k3", "conv8k{}", "conv8k3s{}", "conv8k3p{}", "conv8k3d{}", "conv{}", "maxpool{}", "maxpool3s{}",
    "fc{}", "upsample{}", "pad{}", "adaptiveavgpool{}", "adaptivemaxpool{}", "convtranspose1k1s{}",
    "convtranspose1k{}", "dropout{}", "groupnorm{}", "shuffle{}", "{}", "({})x2", "(relu)x{}",
    "cat(conv4k{} | conv4k1)", "res(conv4k3p{} | conv4k1)",
]


@FUZZ
@given(st.sampled_from(["8x8x4 {}", "32x32x3 {}", "16x16 {}", "4x4x4x2 {}", "{}x8x3 relu", "8x8x{} relu"]),
       st.sampled_from(LAYER_TEMPLATES), ANYTHING)
def test_layer_strings_combined(line, token, value):
    """A hostile number, word or run inside a layer token, or in the input shape."""
    text = line.format(token.format(value)) if line.endswith(" {}") else line.format(value)
    for fmt in ("json", "text"):
        assert_clean(timed("table", text, "--format", fmt))


YAML_SLOTS = [
    "input: [{v}, 8, 3]\nlayers: [relu]\n",
    "input: {v}\nlayers: [relu]\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: {v}, kernel: 3}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: '3x{v}'}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: 3, padding: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: 3, stride: '{v}'}}\n",
    "input: [8, 8, 3]\nlayers:\n  - convtranspose: {{filters: 4, kernel: 3, output_padding: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - upsample: {{scale: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - relu\n    repeat: {v}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: 3}}\n    expect: {{params: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: 3}}\n    expect: {{rf: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - conv: {{filters: 4, kernel: 3}}\n    expect: {{output: '{v}'}}\n",
    "input: [8, 8, 3]\nlayers: []\nexpect: {{rf: {v}}}\n",
    "input: [8, 8, 3]\nbudget: {{params: '{v}'}}\nlayers: [relu]\n",
    "input: [8, 8, 4]\nblocks:\n  b:\n    args: {{x: 2}}\n    layers: ['conv${{x}}k3p1']\nlayers:\n  - b: {{x: {v}}}\n",
    "input: [8, 8, 4]\nblocks:\n  b:\n    args: {{x: 2}}\n    layers: ['conv${{{v}}}k3p1']\nlayers:\n  - b: {{}}\n",
    "input: [8, 8, 3]\nlayers:\n  - reshape: {{to: [{v}, 3]}}\n",
    "input: [8, 8, 3]\nlayers:\n  - reshape: {{to: '{v}x3'}}\n",
    "input: [8, 8, 3]\nlayers:\n  - permute: {{order: [{v}, 0, 1]}}\n",
    "input: [8, 8, 3]\nlayers:\n  - take: {{index: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - take: {{axis: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - elementwise: {{op: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - slice: {{axis: 1, start: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - slice: {{step: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - relu: {{}}\n    name: a\n  - concat: {{from: [a, input], axis: {v}}}\n",
    "input: [8, 8, 3]\nlayers:\n  - relu: {{}}\n    name: a\n  - matmul: {{from: [a, {v}]}}\n",
    "input: [8, 8, 3]\nlayers:\n  - {v}\n",
    "input: [8, 8, 3]\nlayers:\n  - 'conv{v}'\n",
]


@pytest.mark.parametrize("template", YAML_SLOTS)
def test_yaml_specs(template):
    """Every hostile value in each place a YAML spec holds a number, a name or a layer string."""
    for value in FAMILIES:
        text = template.format(v=value)
        assert_clean(timed("table", "-", "--format", "json", input=text))
        assert_clean(timed("check", "-", input=text))


LISTING_LINES = [
    "[{v}x55x96] CONV1: 96 11x11 filters at stride 4, pad 0",
    "[55x55x96] CONV1: {v} 11x11 filters at stride 4, pad 0",
    "[55x55x96] CONV1: 96 {v}x11 filters at stride 4, pad 0",
    "[55x55x96] CONV1: 96 11x11 filters at stride {v}, pad 0",
    "[?] RELU1: {v}! 5",
    "[?] CONV1: 96 11x11 filters at stride 4, pad 0 {v}",
    "{v}",
    "[{v}] INPUT",
    "[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0   params: {v}",
]


@pytest.mark.parametrize("line", LISTING_LINES)
def test_listing_lines(line):
    """Every hostile value in a cs231n listing line, after a valid input line."""
    for value in FAMILIES:
        text = "[227x227x3] INPUT\n" + line.format(v=value) + "\n"
        assert_clean(timed("check", "-", input=text))


@pytest.mark.parametrize("flag", ["--max-params", "--max-macs", "--max-flops", "--max-memory"])
def test_budget_options(flag):
    for value in FAMILIES + ["1" + " " * 2000 + "!", "1<" + " " * 2000 + "!", "25" + "M" * 5000, "1±" + "9" * 5000]:
        assert_clean(timed("check", "lenet5", flag, value))


# --- closed and full outputs: real processes, since a pipe's end is the operating system's ----

COMMANDS = [
    ["table", "vgg16", "--format", "json"],
    ["table", "vgg16"],
    ["kinds"],
    ["list"],
    ["show", "resnet18"],
    ["conv", "227x227x3", "-n", "96", "-k", "11", "-s", "4"],
    ["schema"],
    ["draw", "resnet18", "--style", "graph"],
    ["table", "resnet18", "--format", "html"],
]


def _convcalc(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "convcalc", *args], timeout=60, **kwargs)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_closed_pipe_is_a_normal_end(args):
    """`convcalc ... | head -c1`: exit 0, nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "convcalc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()  # the reader is gone before the writer is done
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == b"", err


@pytest.mark.parametrize("args", COMMANDS[:3], ids=lambda a: " ".join(a[:2]))
def test_a_full_disk_or_closed_stdout_is_a_clean_error(args):
    with open("/dev/full", "w") as full:
        result = _convcalc(args, stdout=full, stderr=subprocess.PIPE)
    assert result.returncode not in (0, 3) and b"Traceback" not in result.stderr
    assert b"error" in result.stderr.lower()
    # `convcalc ... >&-`: no standard output at all
    closed = _convcalc(args, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert closed.returncode in (0, 1, 2) and b"Traceback" not in closed.stderr, closed.stderr


def test_a_closed_pipe_is_a_normal_end_where_dev_null_cannot_be_opened():
    """In a sandbox without /dev/null (or with every descriptor in use) the rest of the output
    cannot be pointed there: it is dropped instead, still exit 0 and nothing on stderr (this was
    exit 1 with a traceback)."""
    code = ("import os, sys; os.devnull = '/nonexistent/null'; "
            "sys.argv = ['convcalc', 'table', 'vgg16', '--format', 'json']; "
            "from convcalc.cli import main; main()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == b"", err
