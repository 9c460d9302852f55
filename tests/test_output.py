"""Output that fits the terminal: the live view, the cost tables and the prose, at 80 and
160 columns in a real pseudo-terminal, piped, and with NO_COLOR.

Each terminal run is checked line by line as the terminal shows it (tests/terminal.py):
no line wider than the terminal, every step name whole, every total whole, nothing cut
with an ellipsis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from terminal import run_in_terminal, screen_lines

from devloop.cli.render import fit_columns, wrap_line
from devloop.money import usd
from devloop.steps import STEPS

ELLIPSIS = "\u2026"
KEYS = [step.key for step in STEPS]


def demo_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "GIT_"))}
    env.pop("NO_COLOR", None)
    (home / ".gitconfig").write_text("")
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def cost_json(repo: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "devloop", "cost", "stop-words", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """The offline demo, run once in an 80-column terminal, once in a 160-column one and
    once in an 80-column one with NO_COLOR: {name: (repo, TerminalRun)}."""
    pytest.importorskip("devloop.agent")
    base = tmp_path_factory.mktemp("demos")
    runs = {}
    for name, columns, extra in (
        ("80", 80, {}),
        ("160", 160, {}),
        ("no-color", 80, {"NO_COLOR": "1"}),
    ):
        home = base / f"home-{name}"
        home.mkdir()
        repo = base / f"tally-{name}"
        env = demo_env(home, **extra)
        run = run_in_terminal(["demo", "--dir", str(repo)], columns, base, env)
        runs[name] = (repo, run, columns)
    return runs


def table_after(lines: list[str], heading: str) -> list[str]:
    """The lines of the last table whose title starts with `heading`, up to a blank line
    after its rows."""
    start = max(i for i, line in enumerate(lines) if line.strip().startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip() and len(rows) > 3:
            break
        rows.append(line)
    return rows


@pytest.mark.parametrize("name", ["80", "160", "no-color"])
def test_the_demo_fits_its_terminal_line_by_line(demos, name):
    repo, run, columns = demos[name]
    assert run.code == 0, run.text[-3000:]
    lines = run.lines()
    too_wide = [line for line in lines if len(line) > columns]
    assert not too_wide, too_wide
    assert ELLIPSIS not in run.text  # nothing was cut to fit


@pytest.mark.parametrize("name", ["80", "160", "no-color"])
def test_the_cost_table_shows_every_step_name_and_the_totals_whole(demos, name):
    repo, run, _ = demos[name]
    rows = table_after(run.lines(), "Cost of feature 'stop-words' by step")
    for key in KEYS:
        assert any(key in row.split() for row in rows), (key, rows)
    total = next(row for row in rows if row.split()[:1] == ["total"])
    doc = cost_json(repo)["total"]
    for field in ("cost_usd", "baseline_usd", "saved_usd"):
        assert usd(Decimal(doc[field])) in total.split(), (field, total)


@pytest.mark.parametrize("name", ["80", "160"])
def test_the_live_view_shows_every_step_name_whole(demos, name):
    _, run, columns = demos[name]
    rows = table_after(run.lines(), "devloop: feature 'stop-words'")
    for key in KEYS:
        assert any(key in row.split() for row in rows), (key, rows)
    if columns == 160:  # room for everything: the model column stays
        assert any("claude-" in row for row in rows)


def test_no_color_means_not_one_escape_code(demos):
    _, run, _ = demos["no-color"]
    assert b"\x1b" not in run.raw
    assert "[ 1/15] research" in run.text  # progress as plain lines, not a redrawn view


@pytest.mark.parametrize("name", ["80", "160", "no-color"])
def test_the_end_line_comes_last_under_the_cost_table_and_says_done_once(demos, name):
    _, run, _ = demos[name]
    lines = run.lines()
    heading = max(i for i, line in enumerate(lines) if line.startswith("Cost of feature"))
    ends = [i for i, line in enumerate(lines) if line.startswith("devloop: done")]
    assert len(ends) == 1 and ends[0] > heading, lines[heading - 5 :]
    assert "done: done" not in run.text
    assert "devloop: done (spent $" in lines[ends[0]]
    assert "committed" in " ".join(lines[ends[0] : ends[0] + 2])


def test_prose_wraps_at_the_terminal_width_not_at_a_fixed_one(demos):
    for name, columns in (("80", 80), ("160", 160)):
        _, run, _ = demos[name]
        lines = run.lines()
        notice = next(i for i, line in enumerate(lines) if line.startswith("The model replies"))
        paragraph = []
        for line in lines[notice:]:
            if not line.strip():
                break
            paragraph.append(line)
        words = " ".join(paragraph).split()
        assert "scripted replies' token usage at real prices" in " ".join(words)
        # Each line but the last is full: the next word would not have fitted.
        for line, after in zip(paragraph, paragraph[1:], strict=False):
            assert len(line.rstrip()) + 1 + len(after.split()[0]) > columns, (line, after)
        if columns == 160:  # the whole 230-character notice in two lines, not three
            assert len(paragraph) == 2


def test_a_re_run_step_shows_that_runs_cost_not_the_steps_total(demos):
    repo, run, _ = demos["no-color"]
    plan_lines = [
        line for line in run.lines() if line.startswith("[ 2/15] plan") and " done " in line
    ]
    assert len(plan_lines) == 2  # the plan was revised once, so ran twice
    shown = [Decimal(next(w for w in line.split() if w.startswith("$"))[1:]) for line in plan_lines]
    rows = {row["key"]: row for row in cost_json(repo)["rows"]}
    step_total = Decimal(rows["plan"]["cost_usd"])
    assert shown[1] < step_total  # not the running total
    assert abs(sum(shown) - step_total) <= Decimal("0.0001")  # the two runs make it up


def test_piped_reports_are_plain_and_complete(demos):
    repo, _, _ = demos["80"]
    env = dict(os.environ, COLUMNS="40")  # a width is no reason to cut a pipe's output
    env.pop("NO_COLOR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "devloop", "cost", "stop-words"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "\x1b" not in proc.stdout and ELLIPSIS not in proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[1].split() == [
        "#", "step", "tier", "model", "calls", "input", "cache", "write", "cache", "read",
        "output", "read", "%", "cost", "baseline", "saved", "saved", "%",
    ]  # fmt: skip
    for key in KEYS:
        assert any(key in line.split() for line in lines), key
    doc = cost_json(repo)["total"]
    total = next(line for line in lines if line.split()[:1] == ["total"])
    for field in ("cost_usd", "baseline_usd", "saved_usd"):
        assert usd(Decimal(doc[field])) in total.split()
    notes = [line for line in lines if line.startswith("frontier baseline = ")]
    assert notes and len(notes[0]) > 120  # prose is not wrapped for a pipe


@pytest.mark.parametrize("columns", [80, 160])
@pytest.mark.parametrize(
    "args",
    [
        ["cost", "stop-words"],
        ["cost", "stop-words", "--by", "model"],
        ["cost", "--all"],
        ["status"],
        ["status", "stop-words"],
        ["routing"],
        ["routing", "explain", "stop-words"],
        ["models"],
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else a,
)
def test_every_report_fits_the_terminal(demos, args, columns):
    repo, _, _ = demos["80"]
    run = run_in_terminal(args, columns, repo, timeout=120)
    assert run.code == 0, run.text
    lines = run.lines()
    assert not [line for line in lines if len(line) > columns], run.text
    assert ELLIPSIS not in run.text
    if args in (["status", "stop-words"], ["routing"], ["routing", "explain", "stop-words"]):
        for key in KEYS:
            assert any(key in line.split() for line in lines), (key, run.text)


# ------------------------------------------------------------- the pieces


def test_columns_are_dropped_in_the_order_given_and_names_never():
    headers = ["#", "step", "model", "calls", "cost"]
    columns = [["1", "15"], ["validate-requirements", "smoke"], ["claude-opus-5-5"] * 2]
    columns += [["1,234", "5"], ["$0.0123", "$10.0000"]]
    natural = 2 + 21 + 15 + 5 + 8 + 2 * 4
    drop = ["calls", "model", "#"]
    assert fit_columns(natural, headers, columns, drop) == [0, 1, 2, 3, 4]
    assert fit_columns(natural - 1, headers, columns, drop) == [0, 1, 2, 4]
    assert fit_columns(21 + 8 + 2 + 2 + 2, headers, columns, drop) == [0, 1, 4]
    assert fit_columns(10, headers, columns, drop) == [1, 4]  # too narrow: names stay


def test_a_prose_column_wraps_before_anything_is_dropped():
    headers = ["step", "why"]
    why = "the rule table routes it to frontier: it judges a plan written on mid"
    columns = [["validate-requirements"], [why]]
    assert fit_columns(21 + 2 + 28, headers, columns, ["why"], ["why"]) == [0, 1]
    assert fit_columns(21 + 2 + 27, headers, columns, ["why"], ["why"]) == [0]


def test_prose_lines_wrap_under_their_second_column_and_never_split_words():
    line = "  ls .devloop/features/stop-words/  research, plans, verdicts, build plan, diff"
    wrapped = wrap_line(line, 72)
    assert wrapped[0].startswith("  ls .devloop/features/stop-words/  research,")
    assert all(len(piece) <= 72 for piece in wrapped)
    assert wrapped[1].startswith(" " * 36) and wrapped[1].strip()
    path = "/a/very/long/path/" * 6
    assert wrap_line(f"Repository: {path}", 40) == ["Repository:", path]


def test_usd_never_shows_a_small_amount_as_zero():
    assert usd(Decimal("0.001"), 2) == "$0.0010"
    assert usd(Decimal("0.00001"), 2) == "$0.00001"
    assert usd(Decimal("0"), 2) == "$0.00"
    assert usd(Decimal("5.1234"), 2) == "$5.12"
    assert usd(Decimal("-0.001"), 2) == "-$0.0010"


def test_a_budget_of_a_tenth_of_a_cent_shows_as_such(repo, devloop):
    result = devloop(repo, "feature", "specs/goodbye.md", "--dry-run", "--budget", "0.001")
    assert "$0.0010 left" in result.out, result
    assert "$0.00 left" not in result.out


def test_screen_lines_treat_a_redraw_as_new_lines():
    assert screen_lines("a\x1b[2K\x1b[1Ab\r\nc\x1b[1mX\x1b[0m") == ["a", "", "b", "cX"]


def test_cells_and_titles_are_text_not_markup():
    import io

    from rich.console import Console

    from devloop.cli.render import fit_table

    out = io.StringIO()
    console = Console(file=out, width=60, color_system=None, force_terminal=True)
    table = fit_table(
        60, ["step", "why"], [["plan", "uses [bold]x[/bold] and [/oops]"]], title="a [b] [/c]"
    )
    console.print(table)
    assert "uses [bold]x[/bold] and [/oops]" in out.getvalue()
    assert out.getvalue().startswith("a [b] [/c]")
