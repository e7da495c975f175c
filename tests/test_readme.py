"""The README's examples run here, so they cannot drift: every ``$ convcalc ...`` line in a
``console`` block runs through CliRunner, and any output shown under it must match."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.engine import analyse
from convcalc.load import load

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def console_examples():
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = chunk.partition("\n")
            yield pytest.param(command, shown, id=command[:60])


@pytest.mark.parametrize("command, shown", list(console_examples()))
def test_readme_example(command: str, shown: str):
    args = shlex.split(command)
    assert args[0] == "convcalc"
    result = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
    expected_code = 2 if shown.startswith("error:") else 0
    assert result.exit_code == expected_code, result.output
    if shown.strip():
        actual = [line.rstrip() for line in result.output.strip("\n").splitlines()]
        assert actual == [line.rstrip() for line in shown.strip("\n").splitlines()]


def test_readme_first_command_is_install_and_vgg16_and_second_is_pytest():
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None
    lines = [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]
    assert lines == ['pip install -e ".[test]" && convcalc table vgg16', "pytest"]


def test_published_figures_table_matches_the_engine():
    section = README.split("### Checked against published figures")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([\w-]+)`[^|]*\| ([\d,]+) \| ([\d,]+) \|", section, re.M)
    assert len(rows) >= 7
    for name, params, macs in rows:
        totals = analyse(load(name)).totals
        assert (totals.params, totals.macs) == (int(params.replace(",", "")), int(macs.replace(",", ""))), name


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^pytest$", ci, re.M)
    assert 'pip install --quiet -e ".[test]" && convcalc table vgg16' in ci
