"""``convcalc solve``: the hyperparameters that make a layer fit, against a brute-force oracle.

The oracle does not use the formula: it slides a window along a padded axis and counts where it
lands. Over small ranges, the solver must find exactly the combinations the oracle accepts.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Set, Tuple

import pytest
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.errors import SpecError
from convcalc.tools.solve import Problem, solve


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def slide(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> Tuple[int, bool]:
    """(windows that fit in the padded axis, whether the last one ends exactly at its end)."""
    taps = dilation * (kernel - 1) + 1
    padded = size + 2 * pad
    starts = list(range(0, padded - taps + 1, stride))
    return len(starts), bool(starts) and starts[-1] + taps == padded


# --- the three examples --------------------------------------------------------------


def test_padding_for_32_in_16_out_kernel_5_stride_2_is_2():
    # the seeds: "F = 5, S = 2, P = ? (whatever fits)"
    solved = solve(Problem(size=32, kernel=5, stride=2, out=16))
    best = solved.solutions[0]
    assert best.padding == (2, 2) and best.rounding == "floor" and best.convention == "same"
    assert [(s.padding, s.rounding) for s in solved.solutions] == [((2, 2), "floor"), ((1, 2), "same"),
                                                                    ((1, 1), "ceil")]
    assert "W1 − F = 32 − 5 = 27 is odd" in solved.explanation()


def test_cli_padding_example_lists_every_p_with_its_rounding():
    result = run("solve", "--in", "32", "-k", "5", "-s", "2", "--out", "16")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Solving W2 = (W1 − F + 2P)/S + 1 for P, given W1 = 32, F = 5, S = 2, W2 = 16 (P from 0 to 4):",
        "  P = 2       (32 − 5 + 2·2)/2 + 1 = 31/2 + 1 = 16.50 → 16   floored (PyTorch): only padding left over; "
        "'same'-style P = (F − 1)/2",
        "  P = 1 + 2   (32 − 5 + 1 + 2)/2 + 1 = 16                    TensorFlow's 'same': 1 before, 2 after",
        "  P = 1       ⌈(32 − 5 + 2·1)/2⌉ + 1 = ⌈29/2⌉ + 1 = 16       ceil mode only (pools)",
        "No symmetric padding fits exactly: W1 − F = 32 − 5 = 27 is odd,",
        "so W1 − F + 2P is odd for every P and stride 2 never divides it.",
    ]


def test_every_stride_and_padding_for_224_to_112_with_a_7x7_kernel():
    solved = solve(Problem(size=224, out=112, kernel=7))
    assert solved.unknowns == ("S", "P")
    first = solved.solutions[0]
    assert (first.window.stride, first.padding) == (2, (3, 3))  # ResNet's conv1: 7x7, stride 2, pad 3
    assert {(s.window.stride, s.padding, s.rounding) for s in solved.solutions} == {
        (2, (3, 3), "floor"), (2, (2, 3), "same"), (2, (2, 2), "ceil")}


def test_every_exact_fit_for_7_with_a_3x3_kernel():
    solved = solve(Problem(size=7, kernel=3))
    found = [(s.window.stride, s.padding[0], s.out) for s in solved.solutions]
    assert found[:3] == [(1, 1, 7), (2, 1, 4), (3, 1, 3)]  # 'same'-style P = 1 first
    assert set(found) == {(1, 0, 5), (1, 1, 7), (1, 2, 9), (2, 0, 3), (2, 1, 4), (2, 2, 5), (3, 1, 3)}
    assert all(s.rounding == "exact" for s in solved.solutions)


def test_input_sizes_that_give_alexnets_55():
    # the notes' AlexNet puzzle: 224 does not give 55 after conv1, 227 does
    solved = solve(Problem(out=55, kernel=11, stride=4, padding=0))
    assert [(s.window.size, s.rounding) for s in solved.solutions][:4] == [
        (227, "exact"), (228, "floor"), (229, "floor"), (230, "floor")]
    assert (224, "ceil") in {(s.window.size, s.rounding) for s in solved.solutions}


# --- the oracle -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 5, 7, 12, 31])
def test_exact_fits_agree_with_sliding_windows(size: int):
    for kernel, dilation in itertools.product(range(1, 6), (1, 2)):
        solved = solve(Problem(size=size, kernel=kernel, dilation=dilation))
        got = {(s.window.stride, s.padding, s.out) for s in solved.solutions if s.rounding == "exact"}
        f_eff = dilation * (kernel - 1) + 1
        want = set()
        for stride in range(1, max(f_eff, 2) + 1):
            for pad in range(0, f_eff):
                count, exact = slide(size, kernel, stride, pad, dilation)
                if count and exact:
                    want.add((stride, (pad, pad), count))
        assert got == want, (size, kernel, dilation)


@pytest.mark.parametrize("size, out", [(7, 3), (32, 16), (13, 6), (9, 9), (10, 1)])
def test_floor_and_exact_solutions_agree_with_sliding_windows(size: int, out: int):
    solved = solve(Problem(size=size, out=out))
    got: Set[Tuple[int, int, int, str]] = {
        (s.window.kernel, s.window.stride, s.padding[0], s.rounding) for s in solved.solutions
        if s.rounding in ("exact", "floor")}
    want = set()
    for kernel in range(1, 12):
        for stride in range(1, max(kernel, 2) + 1):
            for pad in range(0, kernel):
                count, exact = slide(size, kernel, stride, pad)
                if count == out:
                    want.add((kernel, stride, pad, "exact" if exact else "floor"))
    assert got == want


def unread(size: int, kernel: int, stride: int, pad: int) -> int:
    """Input pixels no window reads, found by sliding (stride ≤ kernel, so only the end can be missed)."""
    read = set()
    for start in range(0, size + 2 * pad - kernel + 1, stride):
        read.update(range(start, start + kernel))
    return sum(1 for i in range(pad, pad + size) if i not in read)


@pytest.mark.parametrize("size, out", [(7, 3), (32, 16), (13, 6), (224, 112), (10, 4)])
def test_lost_pixels_agree_with_sliding_windows(size: int, out: int):
    solved = solve(Problem(size=size, out=out, max_kernel=7))
    floors = [s for s in solved.solutions if s.rounding == "floor" and s.window.stride <= s.window.kernel]
    assert floors
    for s in floors:
        assert s.lost == unread(size, s.window.kernel, s.window.stride, s.window.pad_before), s
    ranks = [0 if s.rounding in ("exact", "floor") and not s.lost else 1 for s in solved.solutions
             if s.rounding in ("exact", "floor")]
    assert ranks == sorted(ranks)  # no input lost first


def test_same_solutions_are_exact_and_asymmetric():
    for s in solve(Problem(size=32, out=16, stride=2)).solutions:
        if s.rounding == "same":
            before, after = s.padding
            assert after == before + 1
            assert s.window.fits and s.out == -(-32 // 2)


def test_pools_keep_padding_to_half_the_window():
    solved = solve(Problem(size=55, kernel=3, stride=2, out=28, pool=True))
    assert all(2 * max(s.padding) <= 3 for s in solved.solutions)
    assert [(s.padding, s.rounding) for s in solved.solutions] == [((1, 1), "exact")]
    wide = solve(Problem(size=55, kernel=3, stride=2, out=28, pool=True, max_padding=3))
    assert {s.padding for s in wide.solutions} == {(1, 1)}  # P = 2, 3 are more than half the window


def test_nothing_to_solve_checks_the_given_values():
    holds = solve(Problem(size=7, kernel=3, stride=2, padding=0, out=3))
    assert [s.rounding for s in holds.solutions] == ["exact"]
    fails = solve(Problem(size=7, kernel=3, stride=3, padding=0, out=5))
    assert fails.solutions == ()
    assert fails.lines()[1] == "  does not hold: (7 − 3 + 2·0)/3 + 1 = 4/3 + 1 = 2.33 → 2, not 5"


def test_needs_an_input_or_an_output():
    with pytest.raises(SpecError, match="give the input size"):
        solve(Problem(kernel=3))


@pytest.mark.parametrize("problem", [Problem(size=1000, max_kernel=1000, max_stride=1000),
                                     Problem(size=7, max_kernel=10**9), Problem(out=7, kernel=3, max_stride=10**9),
                                     Problem(size=10**9, kernel=3, max_stride=10**6, max_padding=10**6)])
def test_an_absurd_search_is_refused_at_once(problem: Problem):
    start = time.perf_counter()
    with pytest.raises(SpecError, match="more than 20,000 combinations"):
        solve(problem)
    assert time.perf_counter() - start < 0.5


def test_a_large_but_reasonable_search_runs():
    solved = solve(Problem(size=224, out=112, max_kernel=31))
    assert len(solved.solutions) > 30 and solved.solutions[0].rounding == "exact"


# --- the command ------------------------------------------------------------------------------


def test_cli_json_lists_every_solution():
    data = json.loads(run("solve", "--in", "224", "--out", "112", "-k", "7", "--format", "json").stdout)
    assert data["unknowns"] == ["stride", "padding"]
    assert data["given"] == {"in": 224, "kernel": 7, "out": 112}
    assert data["solutions"][0] | {"notes": None} == {
        "in": 224, "out": 112, "kernel": 7, "stride": 2, "padding": [3, 3], "dilation": 1, "rounding": "floor",
        "convention": "same", "working": "(224 − 7 + 2·3)/2 + 1 = 223/2 + 1 = 112.50 → 112", "notes": None}


def test_cli_accepts_a_square_shape_for_the_input():
    assert run("solve", "--in", "32x32x3", "-k", "5", "-s", "2", "--out", "16").stdout == \
        run("solve", "--in", "32", "-k", "5", "-s", "2", "--out", "16").stdout
    result = run("solve", "--in", "32x16x3", "-k", "5")
    assert result.exit_code == 2 and "not square" in result.stderr


@pytest.mark.parametrize("args, code, fragment", [
    (["-k", "3"], 2, "error: give the input size (--in) or the output size (--out)"),
    (["--in", "7", "-k", "0"], 2, "error: -k/--kernel: expected a positive whole number, got 0"),
    (["--in", "7", "-k", "3", "-p", "-1"], 2, "error: -p/--padding:"),
    (["--in", "7", "-k", "3", "-s", "1", "--out", "11"], 1, ""),
    (["--in", "7", "-k", "3", "-s", "3", "-p", "0", "--out", "5"], 1, ""),
])
def test_cli_exit_codes(args, code, fragment):
    result = run("solve", *args)
    assert result.exit_code == code, result.output
    assert fragment in result.stderr


def test_no_solution_says_how_to_widen_the_search():
    result = run("solve", "--in", "7", "-k", "3", "-s", "1", "--out", "11")  # P up to 2 reaches 9
    assert "widen them with --max-kernel, --max-stride or --max-padding" in result.stdout
    assert run("solve", "--in", "7", "-k", "3", "-s", "1", "--out", "11", "--max-padding", "3").exit_code == 0


def test_the_candidate_cap_refuses_a_search_of_a_million_at_once():
    # --out 7 -s 16 --max-kernel 227: ~800,000 candidates, 657,000 solutions, 7 s and 334 MB under the old cap
    start = time.perf_counter()
    with pytest.raises(SpecError, match="more than 20,000 combinations"):
        solve(Problem(out=7, stride=16, max_kernel=227))
    assert time.perf_counter() - start < 0.5


def test_ceil_mode_solution_with_a_window_larger_than_the_input():
    # PyTorch: MaxPool(3, 2, ceil_mode=True) on 2 gives 1 (the window starts inside the input)
    solved = solve(Problem(size=2, out=1, kernel=3, stride=2, padding=0, pool=True))
    assert [s.rounding for s in solved.solutions] == ["ceil"]
