"""`devloop --help` without importing click, once click has made the text: the same bytes
as click's own `--help`, and made again by click whenever anything it came from changed
(a file of devloop or click, the help width, the locale)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLICK_HELP = (
    "import sys; from devloop.cli.app import cli; import devloop.cli.main; "
    "cli.main(['--help'], prog_name='devloop')"
)


def run(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -X importtime -m devloop ARGS`; stderr lists every module it imported."""
    full = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full.update(XDG_CACHE_HOME=str(cache), **env)
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "devloop", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )


def imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def click_help(**env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", CLICK_HELP], capture_output=True, text=True, env=full
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "devloop").glob("help-*.txt"))


def test_the_second_help_is_clicks_text_without_click(cache):
    first = run(["--help"], cache)
    assert first.returncode == 0 and "click.core" in imported(first)
    assert first.stdout == click_help()
    (stored,) = cache_files(cache)
    assert (cache / "devloop").stat().st_mode & 0o777 == 0o700
    for args in (["--help"], ["-h"]):
        again = run(args, cache)
        assert again.returncode == 0
        assert again.stdout == first.stdout
        assert not {m for m in imported(again) if m.split(".")[0] in ("click", "rich")}


def test_a_changed_file_sends_it_through_click_again(cache):
    first = run(["--help"], cache)
    (stored,) = cache_files(cache)
    lines = stored.read_text().split("\n")
    # As if devloop/cli/feature.py had been edited since: its recorded stamp no longer
    # matches the file on disk.
    at = next(i for i, line in enumerate(lines) if line.endswith("devloop/cli/feature.py"))
    kind, mtime, size, path = lines[at].split(" ", 3)
    lines[at] = f"{kind} {int(mtime) - 1} {size} {path}"
    stored.write_text("\n".join(lines))
    again = run(["--help"], cache)
    assert "click.core" in imported(again) and again.stdout == first.stdout
    assert "click.core" not in imported(run(["--help"], cache))  # stored afresh


def test_another_width_or_locale_is_clicks_own_text(cache):
    run(["--help"], cache)
    narrow = run(["--help"], cache, COLUMNS="60")
    assert "click.core" in imported(narrow)
    assert narrow.stdout == click_help(COLUMNS="60")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 58
    other = run(["--help"], cache, LANGUAGE="de")
    assert "click.core" in imported(other)


def test_a_cache_that_cannot_be_written_costs_only_speed(tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    for _ in range(2):
        proc = run(["--help"], blocked)
        assert proc.returncode == 0 and proc.stdout == click_help()
        assert "click.core" in imported(proc)
    assert blocked.read_text() == ""


def test_only_the_bare_help_is_cached(cache):
    run(["--help"], cache)
    for args in (["routing", "--help"], ["--version"]):
        proc = run(args, cache)
        assert proc.returncode == 0 and "click.core" in imported(proc)
