"""checks: every deterministic check devloop runs, as data (CheckResult), never printed.

The loop's pre-flight, suite and smoke steps and the git hooks call the same functions:

- results.py: CheckResult, Detail, render, running independent checks side by side;
- commands.py: the configured project commands (lint, format, tests, smoke), aimed at the
  files each checks (its patterns);
- staged.py: all of them on exactly what is staged (`devloop check staged`, the hook);
- commitmsg.py: Conventional Commits rules and `devloop check commit-msg`;
- routing_doc.py: ROUTING.md against the config;
- preflight.py: what can be known before a feature run starts.

A hook loads only what it runs: commands, staged, commitmsg and routing_doc are imported
on first use of one of their names (the pre-commit hook never loads commitmsg, the
commit-msg hook never loads staged or commands). preflight is loaded with the package: its
function has the module's name, which a lazy import would shadow.

May import: the leaf modules (config, errors, proc, sandbox, redaction, steps), git, and
routing (lazily, for the routing doc). Nothing above it (loop, agent, reports, cli).
"""

import importlib
from typing import Any

from devloop.checks.preflight import file_coverage, preflight
from devloop.checks.results import CheckResult, Detail, failure_summary, render

_LAZY = {
    "file_patterns": "commands",
    "matches": "commands",
    "select_files": "commands",
    "narrow": "commands",
    "parse_details": "commands",
    "run_format": "commands",
    "run_lint": "commands",
    "run_smoke": "commands",
    "run_tests": "commands",
    "tool_name": "commands",
    "check_commit_msg": "commitmsg",
    "check_routing": "routing_doc",
    "StagedRun": "staged",
    "check_staged": "staged",
}

__all__ = [
    "CheckResult",
    "Detail",
    "failure_summary",
    "file_coverage",
    "preflight",  # not a step: the function
    "render",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'devloop.checks' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"devloop.checks.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value
