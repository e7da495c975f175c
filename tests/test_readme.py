"""The README's examples run here, so they cannot drift: every ``$ convcalc ...`` line in a
``console`` block runs through CliRunner, and any output shown under it must match."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from convcalc.analysis.engine import analyse
from convcalc.cli import cli
from convcalc.load import load

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def console_examples():
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = chunk.partition("\n")
            yield pytest.param(command, shown, id=command[:60])


def run_example(command: str):
    args = shlex.split(command)
    assert args[0] == "convcalc"
    return CliRunner().invoke(cli, args[1:], catch_exceptions=False)


def shown_text(output: str) -> str:
    return "".join(line.rstrip() + "\n" for line in output.strip("\n").splitlines())


@pytest.mark.parametrize("command, shown", list(console_examples()))
def test_readme_example(command: str, shown: str):
    result = run_example(command)
    expected_code = 2 if shown.startswith("error:") else 0
    assert result.exit_code == expected_code, result.output
    if shown.strip():
        assert shown_text(result.output) == shown_text(shown), "README output is stale; pytest --update-goldens"


def test_update_readme_outputs(request: pytest.FixtureRequest):
    """With --update-goldens, rewrite the output shown under each README example that shows one."""
    if not request.config.getoption("--update-goldens"):
        pytest.skip("runs with --update-goldens")
    path = Path(__file__).parent.parent / "README.md"
    text = path.read_text(encoding="utf-8")

    def block(m: "re.Match[str]") -> str:
        parts = re.split(r"^(\$ .*\n)", m.group(1), flags=re.M)
        out = [parts[0]]
        for command_line, shown in zip(parts[1::2], parts[2::2]):
            out.append(command_line)
            out.append(shown_text(run_example(command_line[2:].strip()).output) if shown.strip() else shown)
        return "```console\n" + "".join(out) + "```"

    path.write_text(re.sub(r"```console\n(.*?)```", block, text, flags=re.S), encoding="utf-8")


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


def test_no_table_is_broken_by_a_blank_line():
    # Markdown ends a table at a blank line; the rows after it would render as a paragraph
    assert re.search(r"^\|.*\|\n\s*\n\|", README, re.M) is None


def test_install_commands_name_something_that_installs():
    # convcalc is not on a package index: every pip install must name a path or a URL
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", README, re.S))  # what a reader would run
    for line in re.findall(r"pip install[^\n#&]*", code):
        targets = [w for w in shlex.split(line)[2:] if not w.startswith("-")]
        assert targets and all(t.startswith((".", "/", "git+", '"convcalc @')) or "/" in t for t in targets), line
