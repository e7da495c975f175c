"""The cs231n listing notation: ``[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0``.

The seeds' full AlexNet listing must check clean, and changing any one number in it must be
reported on that line and no other (later answers that follow from the changed one are carried
forward, not failed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Tuple

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.errors import ConvcalcError, SpecError
from convcalc.load import load
from convcalc.spec.listing import parse_listing
from convcalc.spec.source import looks_like_listing
from convcalc.tools.check import Options, check_spec

ROOT = Path(__file__).parent.parent
LISTING = ROOT / "examples" / "alexnet-cs231n.txt"
SEEDS = Path("/work/shared/seeds")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def check_text(text: str) -> Tuple[int, List[Tuple[str, int]]]:
    """(exit-like status, [(status, line)] of everything that is not a plain pass)."""
    try:
        result = check_spec(parse_listing(text, "hw.txt"), "hw.txt", Options())
    except ConvcalcError as e:
        return 2, [("error", e.loc.line if e.loc else 0)]
    flagged = [(o.status, o.loc.line if o.loc else 0) for o in result.outcomes if o.status != "pass"]
    return (1 if result.status == "fail" else 0), flagged


# --- the seeds' listing ---------------------------------------------------------------------


def test_the_seed_listing_is_copied_verbatim():
    if not SEEDS.is_dir():
        pytest.skip("the lecture notes are not here")
    seed = (SEEDS / "003_2a3459ff36330a72.txt").read_text(encoding="utf-8")
    lines = [line for line in LISTING.read_text(encoding="utf-8").splitlines() if line.startswith("[")]
    assert len(lines) == 14
    for line in lines:
        assert line in seed.splitlines()


def test_the_seed_listing_checks_clean():
    result = check_spec(load(str(LISTING)), str(LISTING))
    assert result.status == "ok"
    assert [o.status for o in result.outcomes] == ["pass"] * 13
    assert [o.subject for o in result.outcomes][:3] == ["CONV1", "MAX POOL1", "NORM1"]
    cli_result = run("check", str(LISTING))
    assert cli_result.exit_code == 0
    assert cli_result.stdout.splitlines()[-1] == "✓ 13 passed — 1 source"


def test_the_listing_is_the_bundled_alexnet():
    # the listing and architectures/alexnet.yaml describe one network: same shapes, same totals
    listing = analyse(load(str(LISTING)))
    bundled = analyse(load("alexnet"))
    assert (listing.totals.params, listing.totals.macs) == (62_378_344, 1_135_256_096)
    assert (listing.totals.params, listing.totals.macs) == (bundled.totals.params, bundled.totals.macs)
    weighty = [str(r.output) for r in bundled.layers if r.layer.kind in ("conv", "maxpool", "lrn", "fc")]
    assert [str(r.output) for r in listing.layers] == weighty


def test_table_reads_a_listing_too():
    result = run("table", str(LISTING), "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("1,CONV1,conv,CONV 96 11x11 s4 p0,55x55x96,34944,")


def numbers_to_change() -> List[Tuple[int, int, int]]:
    """(line, start, end) of every number in a layer line's bracket and description (not its name)."""
    out = []
    for number, line in enumerate(LISTING.read_text(encoding="utf-8").splitlines(), start=1):
        m = re.match(r"^\[([^\]]*)\]\s*([^:]*)(?::(.*))?$", line)
        if not m or "INPUT" in line:  # the input is given, not an answer: a change shows on the next line
            continue
        for group in (1, 3):
            if m.group(group) is None:
                continue
            for n in re.finditer(r"\d+", m.group(group)):
                out.append((number, m.start(group) + n.start(), m.start(group) + n.end()))
    return out


@pytest.mark.parametrize("line, start, end", numbers_to_change())
def test_changing_one_number_points_at_its_line(line: int, start: int, end: int):
    lines = LISTING.read_text(encoding="utf-8").split("\n")
    text = lines[line - 1]
    old = int(text[start:end])
    lines[line - 1] = text[:start] + str(old * 2 if old > 1 else old + 2) + text[end:]
    code, flagged = check_text("\n".join(lines))
    assert code in (1, 2), lines[line - 1]
    failures = [(status, at) for status, at in flagged if status in ("fail", "error")]
    assert failures and all(at == line for _, at in failures), (lines[line - 1], flagged)


def test_a_wrong_answer_shows_the_correct_one_and_the_working(monkeypatch: pytest.MonkeyPatch):
    # examples/alexnet-homework.txt is the seed listing with one answer changed: [27x27x96] CONV2
    homework = ROOT / "examples" / "alexnet-homework.txt"
    listing = [line for line in LISTING.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    answer = [line for line in homework.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert [a for a, b in zip(listing, answer) if a != b] == ["[27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2"]
    monkeypatch.chdir(ROOT)
    result = run("check", "examples/alexnet-homework.txt", "--quiet")
    assert result.exit_code == 1
    assert result.stdout == (
        "examples/alexnet-homework.txt:12:2: ✗ CONV2: shape 27x27x96, correct: 27x27x256\n"
        "    [27x27x96] CONV2: 256 5x5 filters at stride 1, pad 2\n"
        "     ^^^^^^^^\n"
        "    H2 = W2 = (27 − 5 + 2·2)/1 + 1 = 27\n"
        "    D2 = K = 256\n"
        "    hint: the output depth is the number of filters, 256, not the input depth 96\n"
        "✗ 12 passed, 1 failed — 1 source\n"
    )


def test_answers_after_a_wrong_stride_are_carried_forward():
    text = LISTING.read_text(encoding="utf-8").replace("filters at stride 4", "filters at stride 3")
    result = check_spec(parse_listing(text, "hw.txt"), "hw.txt")
    fails = [o for o in result.outcomes if o.status == "fail"]
    assert [(o.subject, o.actual) for o in fails] == [("CONV1", "73x73x96")]
    pool1 = next(o for o in result.outcomes if o.subject == "MAX POOL1")
    assert pool1.status == "pass"
    assert pool1.carried == ("carried forward from the answer 55x55x96 for CONV1, line 6: from the correct input "
                             "73x73x96 it would be 36x36x96")


# --- the notation -----------------------------------------------------------------------------


def test_kinds_options_and_prose():
    spec = parse_listing(
        "Full (simplified) network:\n"
        "[Krizhevsky et al. 2012]\n"
        "# a comment\n"
        "[8x8x3] INPUT\n"
        "[8x8x6] CONV1: 6 3x3 filters at stride 1, pad 1, 3 groups, no bias\n"
        "[8x8x6] RELU1\n"
        "[?] POOL1: 2x2 filters\n"
        "[4x4x6] AVG POOL2: 1x1 window, stride 1\n"
        "Output volume : [4x4x6]\n"
        "[10] FC2: 10 neurons (class scores)\n"
        "[10] SOFTMAX\n", "x.txt")
    layers = [ls.layer.describe() for ls in spec.layers]
    assert layers == ["CONV 6 3x3 s1 p1 g3 nb", "RELU", "MAX POOL 2x2 s2", "AVG POOL 1x1 s1", "FC 10", "SOFTMAX"]
    assert [ls.name for ls in spec.layers][:3] == ["CONV1", "RELU1", "POOL1"]
    assert [e.expected for e in spec.layers[2].expect] == [None]  # [?] is an open question
    assert str(spec.layers[0].expect[0].expected) == "8x8x6"
    assert spec.layers[0].expect[0].loc.line == 5


def test_a_1x1xc_answer_for_a_vector_is_accepted():
    # the cs231n VGG table writes FC outputs as [1x1x4096]
    spec = parse_listing("[6x6x256] INPUT\n[1x1x4096] FC6: 4096 neurons\n", "x.txt")
    assert check_spec(spec, "x.txt").outcomes[0].message == "shape 1x1x4096 (= 4096)"


@pytest.mark.parametrize("text, at, message", [
    ("[55x55x96] CONV1: 96 11x11 filters at stride 4", "CONV1", "a listing starts with its input"),
    ("[227x227x3] INPUT\n[55x55x96] CNOV1: 96 11x11 filters", "CNOV", "unknown layer 'CNOV' — did you mean 'conv'?"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters at stride 4, 2 pads", "2 pads",
     "cannot tell what '2' means"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 11x11 filters at stride 4", "11x11", "how many 11x11 filters?"),
    ("[227x227x3] INPUT\nCONV1: 96 11x11 filters at stride 4", "CONV1", "has no [shape] in front"),
    ("[227x227x3] INPUT\n[55x55x9b] CONV1: 96 11x11 filters", "55x55x9b", "cannot read the answer '[55x55x9b]'"),
    ("[?] INPUT\n[55x55x96] CONV1: 96 11x11 filters", "?", "the input needs its shape"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters, stride 4, stride 2", "2", "option 'stride' is given twice"),
    ("[227x227x3] INPUT\n[4096] FC6: 4096 neurons at stride 2", "stride", "fc has no option 'stride'"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters at stride 0", "0", "expected a positive whole number"),
])
def test_mistakes_are_located(text: str, at: str, message: str):
    with pytest.raises(SpecError) as info:
        parse_listing(text, "hw.txt")
    e = info.value
    last = text.split("\n")[e.loc.line - 1] if e.loc else ""
    assert e.loc is not None and (e.loc.line, e.loc.column) == (text.count("\n", 0, text.rindex(at)) + 1,
                                                                 last.rindex(at) + 1), e.render()
    assert message in e.message


NINES = "9" * 5000
NINES_IN_500 = "9" * 450  # a description holds at most 500 characters; numbers in it are cut shorter


@pytest.mark.parametrize("text, at, message", [
    # numbers past Python's 4,300-digit limit, and digits that are not ASCII (issue 11, 4)
    (f"[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x{NINES_IN_500} filters", "11x", "a number of 450 digits"),
    (f"[227x227x3] INPUT\n[55x55x96] CONV1: {NINES_IN_500} 11x11 filters", NINES_IN_500, "a number of 450 digits"),
    (f"[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters at stride 4x{NINES_IN_500}", "4x", "a number of 450"),
    (f"[227x227x3] INPUT\n[4096] FC6: {NINES_IN_500} neurons", NINES_IN_500, "a number of 450 digits"),
    # a description longer than 500 characters is refused as such before any number in it is read
    (f"[227x227x3] INPUT\n[4096] FC6: {NINES} neurons", NINES, "5,008 characters long"),
    (f"[227x227x3] INPUT\n[55x{NINES}] CONV1: 96 11x11 filters", "55x", "a number of 5,000 digits"),
    (f"[227x{NINES}x3] INPUT", "227x", "a number of 5,000 digits"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: ９６ 11x11 filters", "９６", "expected a whole number (digits 0-9)"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters at stride ４", "４", "expected a whole number"),
    ("[227x227x3] INPUT\n[55x55x96] CONV1: 96 11x11 filters, pad ٣", "٣", "expected a whole number"),
    ("[227x227x3] INPUT\n[55x55x９６] CONV1: 96 11x11 filters", "55x55x９６", "expected an input shape"),
])
def test_numbers_are_read_as_ascii_digits_within_limits(text: str, at: str, message: str):
    test_mistakes_are_located(text, at, message)


@pytest.mark.parametrize("line, message", [
    ("a" + " " * 30_000, None),  # prose: was 8.5 s
    ("CONV" + " " * 30_000 + "x1: 3 3x3 filters", None),  # prose too: no number right after the name
    ("[?] RELU1: " + "a" * 20_000 + "! 5", "is 20,003 characters long"),  # was 30 s
    ("[?] RELU1: a" + " " * 30_000 + "!", "is 30,002 characters long"),
    ("[?] CONV1: stride" + " " * 30_000 + "!", "characters long"),
    ("[?] CONV" + " " * 30_000 + "x1: 3 3x3 filters", "unknown layer"),
    ("[?] CONV1: " + "1x" * 240 + "1", "cannot tell what"),
    ("[?] CONV1: stride" + " " * 400 + "2, " + "9" * 90, "cannot tell what"),
])
def test_long_lines_are_read_in_linear_time(line: str, message: "str | None"):
    import time

    text = "[8x8x3] INPUT\n" + line + "\n[8x8x3] RELU9:\n"
    start = time.perf_counter()
    try:
        parse_listing(text, "long.txt")
        assert message is None
    except SpecError as e:
        assert message is not None and message in e.message, e.message
        assert e.loc is not None and e.loc.line == 2 and len(e.render()) < 1000
    assert time.perf_counter() - start < 2  # a bound against hangs, not a benchmark


def test_a_listing_without_an_input_line_says_what_a_listing_is():
    with pytest.raises(SpecError, match=r"no listing here: expected lines like '\[227x227x3\] INPUT'"):
        parse_listing("Some prose.\nMore prose.\n", "x.txt")


def test_crlf_and_tabs_read_the_same():
    text = "[227x227x3] INPUT\r\n\t[55x55x96]\tCONV1:\t96 11x11 filters at stride 4\r\n[27x27x95] MAX POOL1: 3x3 filters at stride 2\r\n"
    result = check_spec(parse_listing(text, "hw.txt"), "hw.txt")
    assert [o.status for o in result.outcomes] == ["pass", "fail"]
    assert result.outcomes[1].loc.source == "[27x27x95] MAX POOL1: 3x3 filters at stride 2"


def test_listings_are_told_from_yaml_by_their_first_line():
    assert looks_like_listing("# AlexNet\n\n[227x227x3] INPUT\n")
    assert not looks_like_listing("input: [227, 227, 3]\nlayers: []\n")
    assert not looks_like_listing("# just a comment\n")


# --- hostile text: a located error or a network, never a crash ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LINE_PARTS = st.sampled_from(["[", "]", "227x227x3", "55x55x96", "?", "INPUT", "CONV1", "MAX POOL1", "FC6", "NORM",
                              ":", " ", "96", "11x11", "filters", "at stride", "4", ",", "pad", "0", "neurons", "\n",
                              "\r\n", "\t", "#", "×", "9" * 30, "groups", "same", "-", "x", "é", "\x00"])


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE_PARTS, max_size=40).map("".join))
def test_any_text_is_a_network_or_a_located_error(text: str):
    try:
        spec = parse_listing("[32x32x3] INPUT\n" + text, "fuzz.txt")
    except SpecError as e:
        assert e.loc is None or e.loc.line >= 1
        return
    try:
        check_spec(spec, "fuzz.txt")
    except ConvcalcError:
        pass


# --- open questions are answered; classic mistakes are named ---------------------------------


def test_an_open_answer_is_filled_in_and_printed(tmp_path: Path):
    hw = tmp_path / "hw.txt"
    hw.write_text("[227x227x3] INPUT\n[?] CONV1: 96 11x11 filters at stride 4, pad 0\n"
                  "[] MAX POOL1: 3x3 filters at stride 2\n[27x27x96] NORM1: Normalization layer\n")
    for args in ((), ("--quiet",)):
        result = run("check", str(hw), *args)
        assert result.exit_code == 0  # a question is not a mistake
        lines = result.stdout.splitlines()
        assert f"{hw}:2:2: → CONV1: shape 55x55x96 (filled in)" in lines
        assert f"{hw}:3:2: → MAX POOL1: shape 27x27x96 (filled in)" in lines
        assert "    H2 = W2 = (227 − 11 + 2·0)/4 + 1 = 55" in lines
        assert "    params 34,944 · MACs 105,415,200 · memory 290,400 activations" in lines
        assert "2 filled in" in lines[-1]
    data = json.loads(run("check", str(hw), "--format", "json").stdout)
    assert data["summary"]["answers"] == 2
    assert [(c["status"], c["actual"]) for c in data["sources"][0]["checks"][:2]] == [
        ("answer", "55x55x96"), ("answer", "27x27x96")]
    assert "::notice file=" in run("check", str(hw), "--format", "github").stdout


@pytest.mark.parametrize("answer, hint", [
    ("[27x27x96] CONV2: 256 5x5 filters at stride 1, pad 2",
     "the output depth is the number of filters, 256, not the input depth 96"),
    ("[9216] FC6: 4096 neurons", "9,216 is 6x6x256 flattened, what FC6 takes in; its output is 4096"),
    ("[6x6x256] FC6: 4096 neurons", "that is FC6's input; its output is 4096"),
])
def test_classic_shape_mistakes_get_a_hint(answer: str, hint: str):
    first = "[27x27x96] INPUT" if "CONV2" in answer else "[6x6x256] INPUT"
    result = check_spec(parse_listing(f"{first}\n{answer}\n", "hw.txt"), "hw.txt")
    assert [(o.status, o.hint) for o in result.outcomes] == [("fail", hint)]
