"""The `devloop` command line: parses and renders; the work is done elsewhere.

The command group and its config loading are app.py's; each command family is a module
(setup, routes, cost, checks, feature, ab, simcmd), imported here to register. `main` maps
errors to the documented exit codes; the hook fast path (fast.py) shares them.
"""

from __future__ import annotations

import sys

import click

from devloop.cli import (  # noqa: F401 (register the commands)
    ab,
    checks,
    cost,
    evalcmd,
    feature,
    routes,
    setup,
    simcmd,
)
from devloop.cli.app import OutputClosed, add_directory_option, cli
from devloop.errors import EXIT_INTERRUPTED, DevloopError, cannot_write

__all__ = ["cli", "main"]

for _command in cli.commands.values():
    add_directory_option(_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map errors to the documented exit codes, never a traceback.
    Every error is one `devloop: error: ...` line (click's usage errors too, exit 2)."""
    from devloop.cli import helpcache

    if (sys.argv[1:] if argv is None else argv) in helpcache.HELP_ARGS:
        _print_help(helpcache)
    try:
        cli.main(args=argv, prog_name="devloop", standalone_mode=False)
        sys.stdout.flush()  # here, where a closed pipe can be handled, not at exit
    except DevloopError as exc:
        fail(exc.message, exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("devloop: interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # `devloop` or `devloop hooks` alone: the help, as click prints it
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:
        fail(exc.format_message(), exc.exit_code, _usage_hint(exc.ctx))
    except click.exceptions.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (BrokenPipeError, OutputClosed):
        from devloop.cli.fast import quiet_broken_pipe  # not at import: --help stays fast

        quiet_broken_pipe()
    except OSError as exc:  # a write no check foresaw: still a message, not a traceback
        where = exc.filename if exc.filename is not None else "a file"
        error = cannot_write(where, exc, verb="use")
        fail(error.message, error.exit_code)
    sys.exit(0)


def fail(message: str, code: int, hint: str = "") -> None:
    """Print `devloop: error: MESSAGE` (and a hint line) and exit with `code`."""
    try:
        click.echo(f"devloop: error: {message}", err=True)
        if hint:
            click.echo(hint, err=True)
    except BrokenPipeError:  # stderr closed too: the exit code says it all
        pass
    sys.exit(code)


def _usage_hint(ctx: click.Context | None) -> str:
    if ctx is None:
        return "  see `devloop --help`"
    return f"  {ctx.get_usage().replace('Usage: ', 'usage: ', 1)} (see `{ctx.command_path} --help`)"


def _print_help(helpcache) -> None:
    """`devloop --help`, as click's own option prints it, kept for the next time."""
    with cli.make_context("devloop", [], resilient_parsing=True) as ctx:
        text = ctx.get_help() + "\n"
    click.echo(text, nl=False)
    helpcache.store(text)
    sys.exit(0)
