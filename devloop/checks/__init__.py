"""checks: every deterministic check devloop runs, as data (CheckResult), never printed.

The loop's pre-flight, suite and smoke steps and the git hooks call the same functions:

- results.py: CheckResult, Detail, render, running independent checks side by side;
- commands.py: the configured project commands (lint, format, tests, smoke), aimed at the
  files each checks (its patterns);
- staged.py: all of them on exactly what is staged (`devloop check staged`, the hook);
- commitmsg.py: Conventional Commits rules and `devloop check commit-msg`;
- routing_doc.py: ROUTING.md against the config;
- preflight.py: what can be known before a feature run starts.

May import: the leaf modules (config, errors, proc, sandbox, redaction, steps), git, and
routing (lazily, for the routing doc). Nothing above it (loop, agent, reports, cli).
"""

from devloop.checks.commands import (
    file_patterns,
    matches,
    narrow,
    parse_details,
    run_format,
    run_lint,
    run_smoke,
    run_tests,
    select_files,
    tool_name,
)
from devloop.checks.commitmsg import check_commit_msg
from devloop.checks.preflight import file_coverage, preflight
from devloop.checks.results import CheckResult, Detail, failure_summary, render
from devloop.checks.routing_doc import check_routing
from devloop.checks.staged import StagedRun, check_staged

__all__ = [
    "CheckResult",
    "Detail",
    "StagedRun",
    "check_commit_msg",
    "check_routing",
    "check_staged",
    "failure_summary",
    "file_coverage",
    "file_patterns",
    "matches",
    "narrow",
    "parse_details",
    "preflight",  # not a step: the function
    "render",
    "run_format",
    "run_lint",
    "run_smoke",
    "run_tests",
    "select_files",
    "tool_name",
]
