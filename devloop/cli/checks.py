"""`devloop check ...`: the deterministic checks the hooks and the loop run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.app import cli, load_config
from devloop.cli.options import PathParam
from devloop.errors import CheckFailed

if TYPE_CHECKING:
    from pathlib import Path


# ------------------------------------------------------- check and hooks


@cli.group()
def check() -> None:
    """Run the loop's deterministic checks; the git hooks run the same ones.

    Exit 0 when every check passes, 1 when one fails, 2 for a usage or config error.
    """


def _emit(text: str, failure: str | None) -> None:
    """Print a check report; raise CheckFailed (exit 1) when a check failed."""

    click.echo(text, nl=False)
    if failure:
        raise CheckFailed(failure)


def _show_results(title: str, results: list) -> None:
    from devloop import checks

    _emit(checks.render(title, results), checks.failure_summary(results))


def _quiet_option():
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Print nothing when the checks pass; the full report when one fails "
        "(the git hooks run with it).",
    )


@check.command("staged")
@_quiet_option()
@click.pass_context
def check_staged(ctx: click.Context, quiet: bool) -> None:
    """Lint, format, routing doc and quick tests on exactly what is staged.

    Unstaged changes are set aside while the checks run and put back byte for byte
    afterwards, whatever happens. This is what the pre-commit hook runs.
    """
    from devloop.cli import fast

    _emit(*fast.staged_report(ctx.obj["start"], quiet))


@check.command("commit-msg")
@_quiet_option()
@click.argument("message_file", type=PathParam())
@click.pass_context
def check_commit_msg(ctx: click.Context, quiet: bool, message_file: Path) -> None:
    """Check a commit message file against Conventional Commits 1.0.0.

    Types and header length come from [git] in the config. Comment lines and everything
    below git's scissors line are ignored; merge, revert, fixup!, squash! and amend!
    messages pass untouched. This is what the commit-msg hook runs.
    """
    from devloop.cli import fast

    _emit(*fast.commit_msg_report(ctx.obj["start"], message_file, quiet))


@check.command("lint")
@click.pass_context
def check_lint(ctx: click.Context) -> None:
    """The lint and format checks on the working tree, as configured."""
    from devloop import checks

    cfg = load_config(ctx)
    _show_results("devloop check lint:", [checks.run_lint(cfg), checks.run_format(cfg)])


@check.command("test")
@click.option("--quick", is_flag=True, help="Run the quick_test command instead.")
@click.pass_context
def check_test(ctx: click.Context, quick: bool) -> None:
    """The configured test command (or quick_test)."""
    from devloop import checks

    _show_results("devloop check test:", [checks.run_tests(load_config(ctx), quick=quick)])


@check.command("smoke")  # not a step: the smoke command
@click.pass_context
def check_smoke(ctx: click.Context) -> None:
    """The smoke command, then the quick tests: the loop's final gate."""
    from devloop import checks

    _show_results("devloop check smoke:", checks.run_smoke(load_config(ctx)))


@check.command("preflight")  # not a step: the generic pre-flight checks
@click.option("--clean", is_flag=True, help="Also require no uncommitted changes.")
@click.pass_context
def check_preflight(ctx: click.Context, clean: bool) -> None:
    """What a feature run needs: a git repository, the tools, an API key or base URL."""
    from devloop import checks

    results = checks.preflight(load_config(ctx), require_clean=clean)
    _show_results("devloop check preflight:", results)
