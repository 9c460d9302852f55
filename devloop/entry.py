"""Console-script entry: the git-hook commands and `devloop --help` skip the click CLI.

Hooks run on every commit, and importing click is about a third of a hook's run time, so
`devloop check staged` and `devloop check commit-msg FILE` go straight to devloop.cli.fast;
`devloop --help` prints the text click made last time while nothing it came from changed
(devloop.cli.helpcache); everything else goes through the full CLI in devloop.cli.
"""

from __future__ import annotations

import os
import sys

HOOK_COMMANDS = (["check", "staged"], ["check", "commit-msg"])


def main() -> None:
    if sys.argv[1:3] in HOOK_COMMANDS:  # decided before importing anything of devloop's
        from devloop.cli.fast import fast_main

        code = fast_main(sys.argv[1:])
        if code is not None:
            _exit_now(code)
    elif sys.argv[1:] in (["--help"], ["-h"]):
        from devloop.cli.helpcache import cached

        text = cached()
        if text is not None:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except BrokenPipeError:
                pass  # the reader left: the full CLI says so the way every command does
            else:
                _exit_now(0)
    from devloop.cli.main import main as cli_main

    cli_main()


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, once what was written is flushed: the fast
    paths leave no child unwaited, no file unclosed and no exit handler, and freeing every
    module and object one by one costs a hook several milliseconds for nothing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader that left gets nothing more either way
    os._exit(code)
