"""What can be known before a feature run starts: a git repository, the configured tools on
PATH, an API key or base URL, priced models; for the loop's step 7 also the plan's files, a
clean tree and the budget left."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from devloop import config as config_mod
from devloop.checks.commands import FILE_CHECKS, file_patterns, matches
from devloop.checks.results import MAX_DETAILS, CheckResult, Detail, skipped_result
from devloop.config import Config
from devloop.errors import UsageError
from devloop.git import repository
from devloop.money import usd

if TYPE_CHECKING:
    pass


_SHELL_BUILTINS = {"cd", "true", "false", ":", "echo", "test", "[", "exit", "set", "export"}


def preflight(
    cfg: Config,
    *,
    env: Mapping[str, str] | None = None,
    plan_files: Sequence[str | Path] = (),
    require_clean: bool = False,
    budget_left_usd: Decimal | None = None,
    estimated_usd: Decimal | None = None,
) -> list[CheckResult]:
    """What can be known before a feature run starts. Standalone (`devloop check
    preflight`) this is: a git repository, the configured tools on PATH, an API key or base
    URL, each tier's model priced. The loop's step 7 adds its plan's files, a clean tree and
    the budget left."""
    env = os.environ if env is None else env
    results = [_git_check(cfg), _tools_check(cfg, env), _api_check(cfg, env)]
    results.append(_models_check(cfg, bounded=budget_left_usd is not None))
    if plan_files:
        results.append(_files_check(cfg, plan_files))
    if require_clean:
        results.append(_clean_check(cfg))
    if budget_left_usd is not None:
        results.append(_budget_check(budget_left_usd, estimated_usd))
    return results


def _git_check(cfg: Config) -> CheckResult:
    try:
        repo = repository.find_repo(cfg.root)
    except UsageError as exc:
        return CheckResult("git", False, exc.message, fix="git init")
    return CheckResult("git", True, f"repository at {repo.toplevel}")


def _tools_check(cfg: Config, env: Mapping[str, str]) -> CheckResult:
    from devloop import sandbox

    found: list[str] = []
    missing: list[Detail] = []
    for key in ("lint", "format", "test", "quick_test", "smoke"):  # not a step: [commands]
        command = getattr(cfg.commands, key)
        if not command.strip():
            continue
        program = sandbox.first_program(command)
        if program is None or program in _SHELL_BUILTINS:
            ok = True  # a shell construct: the shell will tell at run time
        elif "/" in program:
            path = Path(program) if os.path.isabs(program) else cfg.root / program
            ok = path.is_file() and os.access(path, os.X_OK)
        else:
            import shutil

            ok = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
        if ok:
            patterns = file_patterns(cfg, key) if key in FILE_CHECKS else None
            found.append(f"{key} ({', '.join(patterns)})" if patterns else key)
        else:
            missing.append(Detail(f"[commands] {key}: `{program}` not found ({command!r})"))
    if missing:
        return CheckResult(
            "tools",
            False,
            f"{len(missing)} configured command(s) cannot run",
            missing,
            fix="install the tools, or fix [commands] in devloop.toml",
        )
    if not found:
        return skipped_result("tools", "no commands configured ([commands])")
    return CheckResult("tools", True, f"found: {', '.join(found)}")


def _api_check(cfg: Config, env: Mapping[str, str]) -> CheckResult:
    # A key is what the SDK client needs (model/client.py refuses a run without one); a
    # base URL or [endpoints] only says where it goes, e.g. `devloop sim serve` with any key.
    keys = [k for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if env.get(k)]
    base = env.get("ANTHROPIC_BASE_URL")
    endpoints = [t for t in config_mod.MODEL_TIERS if getattr(cfg.endpoints, t, "")]
    if keys:
        how = keys + (["ANTHROPIC_BASE_URL"] if base else [])
        how += [f"[endpoints] {', '.join(endpoints)}"] if endpoints else []
        return CheckResult("api", True, "configured via " + ", ".join(how))
    return CheckResult(
        "api",
        False,
        "no API key"
        + (" (a base URL is set, but a run needs a key too)" if base or endpoints else ""),
        [
            Detail(
                "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN for a gateway); for a "
                "compatible server at ANTHROPIC_BASE_URL or [endpoints], any key"
            )
        ],
        fix="export ANTHROPIC_API_KEY=...",
    )


def _models_check(cfg: Config, *, bounded: bool) -> CheckResult:
    """Every tier's model has a price. An unpriced one gets this far only by [models]
    allow_unpriced, and under a budget ceiling the Door would refuse each of its calls."""
    from devloop.model import pricing

    known = set(pricing.known_models())
    tiers = config_mod.MODEL_TIERS
    unpriced = [
        f"{t} = {cfg.models.for_tier(t)}" for t in tiers if cfg.models.for_tier(t) not in known
    ]
    if not unpriced:
        return CheckResult("models", True, "every tier's model is in the price table")
    ceiling = bounded or any(
        v for v in (cfg.budget.feature_usd, cfg.budget.step_usd, cfg.budget.steps)
    )
    if ceiling:
        return CheckResult(
            "models",
            False,
            f"no price for {', '.join(unpriced)}, and a budget ceiling is set: devloop never "
            "sends a call it cannot price under a ceiling",
            fix="run without --budget and [budget], or choose priced models under [models]",
        )
    return CheckResult(
        "models",
        True,
        f"UNPRICED (allowed by [models] allow_unpriced): {', '.join(unpriced)}; their calls "
        "are recorded as unpriced, never as $0, and no ceiling limits them",
    )


def _files_check(cfg: Config, plan_files: Sequence[str | Path]) -> CheckResult:
    missing = [str(f) for f in plan_files if not (cfg.root / f).exists()]
    if missing:
        return CheckResult(
            "plan files",
            False,
            f"{len(missing)} file(s) the plan names do not exist",
            [Detail("does not exist", f) for f in missing],
        )
    return CheckResult("plan files", True, f"all {len(plan_files)} exist")


def file_coverage(cfg: Config, files: Sequence[str]) -> CheckResult:
    """Which of `files` (the plan's) each file check (lint, format) will be given, by its
    file patterns: a file none of them checks is named, so a plan in a language the
    configured linters do not cover is seen before the build, not after it."""
    commands = [k for k in FILE_CHECKS if getattr(cfg.commands, k).strip()]
    if not commands:
        return skipped_result("file checks", "no lint or format command configured ([commands])")
    if not files:
        return skipped_result("file checks", "the plan names no files")
    parts, covered = [], set()
    for key in commands:
        patterns = file_patterns(cfg, key)
        chosen = [f for f in files if matches(f, patterns)]
        covered |= set(chosen)
        which = ", ".join(patterns) if patterns else "every file"
        parts.append(f"{key} ({which}) checks {len(chosen)} of {len(files)}")
    unchecked = [f for f in files if f not in covered]
    details = [Detail("no lint or format command checks it", f) for f in unchecked[:MAX_DETAILS]]
    if unchecked:
        details.append(Detail("add its patterns to [commands] lint_files, or another linter"))
    return CheckResult("file checks", True, "; ".join(parts), details)


def _clean_check(cfg: Config) -> CheckResult:
    dirty = repository.dirty_paths(cfg.root)
    if dirty:
        return CheckResult(
            "clean tree",
            False,
            f"{len(dirty)} tracked file(s) have uncommitted changes",
            [Detail("uncommitted changes", p) for p in dirty[:MAX_DETAILS]],
            fix="git stash  (or commit them)",
        )
    return CheckResult("clean tree", True, "no uncommitted changes to tracked files")


def _budget_check(left_usd: Decimal, estimated_usd: Decimal | None) -> CheckResult:
    if left_usd <= 0:
        return CheckResult("budget", False, f"no budget left ({usd(left_usd, 2)})")
    if estimated_usd is not None and estimated_usd > left_usd:
        return CheckResult(
            "budget",
            False,
            f"the estimate {usd(estimated_usd, 2)} exceeds the {usd(left_usd, 2)} left",
            fix="raise [budget] feature_usd, or plan a smaller change",
        )
    return CheckResult("budget", True, f"{usd(left_usd, 2)} left")
