"""Console-script entry: the two git-hook commands skip the click CLI.

Hooks run on every commit, and importing click is about a third of a hook's run time, so
`devloop check staged` and `devloop check commit-msg FILE` go straight to devloop.cli.fast;
everything else (including any option) goes through the full CLI in devloop.cli.
"""

from __future__ import annotations

import sys

HOOK_COMMANDS = (["check", "staged"], ["check", "commit-msg"])


def main() -> None:
    code = None
    if sys.argv[1:3] in HOOK_COMMANDS:  # decided before importing anything of devloop's
        from devloop.cli.fast import fast_main

        code = fast_main(sys.argv[1:])
    if code is None:
        from devloop.cli.main import main as cli_main

        cli_main()
    sys.exit(code)
