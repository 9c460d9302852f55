"""Console-script entry: the git-hook commands and `devloop --help` skip the click CLI.

Hooks run on every commit, and importing click is about a third of a hook's run time, so
`devloop check staged` and `devloop check commit-msg FILE` go straight to devloop.cli.fast;
`devloop --help` prints the text click made last time while nothing it came from changed
(devloop.cli.helpcache); everything else goes through the full CLI in devloop.cli.
"""

from __future__ import annotations

import sys

HOOK_COMMANDS = (["check", "staged"], ["check", "commit-msg"])


def main() -> None:
    code = None
    if sys.argv[1:3] in HOOK_COMMANDS:  # decided before importing anything of devloop's
        from devloop.cli.fast import fast_main

        code = fast_main(sys.argv[1:])
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
                sys.exit(0)
    if code is None:
        from devloop.cli.main import main as cli_main

        cli_main()
    sys.exit(code)
