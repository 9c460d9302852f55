"""Every config key's rule: what it means and which values it takes, in one table.

config.py turns TOML into typed dataclasses (a wrong type is refused there); `validate` then
holds every key to its rule here, so `timeout_s = -5`, `max_revisions = -3`,
`branch_prefix = "bad..name/"` or an unpriced model id are refused with the file, the key
and the value named (exit 2). The same table renders the README's config reference
(`reference_markdown`), and a test fails when a config field has no rule, so the rules, the
reference and the dataclasses cannot drift apart.

May import: the leaf modules (config, errors, money, steps, redaction).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import config as config_mod
from devloop.config import Config, key_error
from devloop.errors import UnknownStepError, did_you_mean
from devloop.money import MAX_USD

Check = Callable[[Any], str | None]  # the problem with a value, or None when it is fine


@dataclass(frozen=True)
class Rule:
    meaning: str  # one line for the reference
    allowed: str  # the values it takes, in words (the reference's "allowed" column)
    check: Check | None = None  # the whole value; None: any value of the right type
    each: Check | None = None  # every item of a list, every value of a table
    steps: str = ""  # a table keyed by step number or key: "any" step, or "model" steps only


# ---------------------------------------------------------------- checks


def at_least(low: int) -> Check:
    def check(value: Any) -> str | None:
        if value >= low:
            return None
        return "must be 0 or more" if low == 0 else f"must be at least {low}"

    return check


def _seconds(value: float) -> str | None:
    if math.isfinite(value) and value > 0:
        return None
    return "must be a finite number of seconds above 0"


def _fraction(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def _usd(value: Decimal | None) -> str | None:
    if value is None or (value.is_finite() and 0 < value <= MAX_USD):
        return None
    return f"must be a positive amount of USD, at most {MAX_USD:,} (the ledger's limit)"


def one_of(options: tuple[str, ...], what: str) -> Check:
    def check(value: str) -> str | None:
        if value in options:
            return None
        return (
            f"is not a known {what}.{did_you_mean(value, options)} Use one of: {', '.join(options)}"
        )

    return check


def _model_id(value: str) -> str | None:
    if value.strip() and not any(c.isspace() for c in value):
        return None
    return "must name a model id, such as claude-sonnet-5-5"


def _url(value: str) -> str | None:
    if not value:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return 'must be "" or an http(s) URL, such as "https://gateway.example/anthropic"'
    return None


def _shell_command(value: str) -> str | None:
    import shlex

    if "\0" in value:
        return "must not contain a NUL character"
    try:
        shlex.split(value)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        return f"is not a shell command line ({str(exc).lower()})"
    return None


# git check-ref-format, for a branch named <prefix><slug>: no component starts with "." or
# ends with ".lock"; no "..", "@{", "//", control characters, space, ~ ^ : ? * [ \; no "/"
# or "-" first.
_REF_BAD_CHARS = set(" ~^:?*[\\")


def ref_problem(prefix: str) -> str | None:
    """Why `prefix` followed by a feature's slug is not a valid git branch name (the rules
    of `git check-ref-format --branch`), or None."""
    name = prefix + "x"  # a slug is at least one letter or digit
    for char in name:
        if ord(char) < 32 or ord(char) == 127:
            return "a git branch name cannot contain control characters"
        if char in _REF_BAD_CHARS:
            return f"a git branch name cannot contain {char!r}"
    for bad in ("..", "@{", "//"):
        if bad in name:
            return f"a git branch name cannot contain {bad!r}"
    if name.startswith(("/", "-")):
        return f"a git branch name cannot start with {name[0]!r}"
    for part in name.split("/"):
        if part.startswith("."):
            return "no part of a git branch name between slashes may start with '.'"
        if part.endswith(".lock"):
            return "no part of a git branch name between slashes may end with '.lock'"
    return None


def _commit_types(value: list[str]) -> str | None:
    if not value:
        return "must list at least one type"
    seen = {t.lower() for t in value}
    return None if len(seen) == len(value) else "must not list a type twice"


def _commit_type(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", value):
        return None
    return 'must be one word of letters, digits, "-" or "_", such as "feat"'


def _suffix(value: str) -> str | None:
    bare = value.removeprefix(".")
    if bare and not any(c.isspace() or c in "/\\*" for c in bare):
        return None
    return 'must be a file name ending, such as ".py"'


_LONE_SUFFIX = re.compile(r"\.[A-Za-z0-9_+-]+")


def _file_pattern(value: str) -> str | None:
    if not value.strip() or value.startswith("/") or ".." in value.split("/"):
        return 'must be a glob pattern relative to the repository root, such as "*.go"'
    if _LONE_SUFFIX.fullmatch(value):
        return f'is a suffix, and patterns match file names: write "*{value}"'
    return None


def _name(value: str) -> str | None:
    if value == value.strip() and value.isprintable():
        return None
    return "must be a name without surrounding spaces or control characters"


def _ledger_url(value: str) -> str | None:
    if not value or value.startswith(("postgresql://", "postgres://")):
        return None
    return 'is not a PostgreSQL URL: use "postgresql://USER@HOST/DATABASE", or "" for .devloop/'


def _relative_path(value: str) -> str | None:
    path = Path(value)
    if value.strip() and not path.is_absolute() and ".." not in path.parts:
        return None
    return 'must be a path relative to the repository root, such as "README.md"'


def _read_path(value: str) -> str | None:
    if value.startswith("/") or value.startswith("~/"):
        return None
    return 'must be an absolute path or start with "~/", such as "/opt/sdk" or "~/.gradle"'


def _env_name(value: str) -> str | None:
    from devloop.redaction import is_secret_name

    if not value or not value.replace("_", "A").isalnum() or value[0].isdigit():
        return "is not an environment variable name"
    if value.upper().startswith("ANTHROPIC_") or is_secret_name(value):
        return (
            "looks like a credential, and credentials never enter the sandbox: model-written "
            "code runs there. Remove it; a test that needs a secret belongs outside devloop's "
            "loop"
        )
    return None


# ---------------------------------------------------------------- the table

_TIERS = config_mod.MODEL_TIERS
_COMMAND = 'a shell command; "" = none'
_POSITIVE = "1 or more"
_SECONDS = "a finite number above 0"
_USD = f"above 0, at most {MAX_USD:,}; unset = no ceiling"

RULES: dict[str, Rule] = {
    **{
        f"models.{tier}": Rule(
            f"model id of the {tier} tier",
            "an id in devloop's price table (any id with allow_unpriced)",
            _model_id,
        )
        for tier in _TIERS
    },
    "models.allow_unpriced": Rule(
        "let a tier name a model the price table does not know: its calls are recorded "
        "unpriced, and no [budget] ceiling can be set",
        "true or false",
    ),
    **{
        f"endpoints.{tier}": Rule(
            f"base URL of an Anthropic-compatible server for the {tier} tier",
            '"" (the SDK default) or an http(s) URL',
            _url,
        )
        for tier in _TIERS
    },
    "api.max_retries": Rule(
        "retries of a failed request (429, 500, 529, connection errors)", "0 or more", at_least(0)
    ),
    "api.timeout_s": Rule("seconds one request may take", _SECONDS, _seconds),
    "api.attribution_headers": Rule(
        "send X-Devloop-Feature and X-Devloop-Step on every request", "true or false"
    ),
    "api.on_model_mismatch": Rule(
        "another model answered: warn, fail (exit 4), or auto (fail when it has no price)",
        " | ".join(config_mod.MISMATCH_POLICIES),
        one_of(config_mod.MISMATCH_POLICIES, "model-mismatch policy"),
    ),
    "api.max_continuations": Rule(
        "times a paused turn (stop_reason pause_turn) is continued", "0 or more", at_least(0)
    ),
    "routing.router": Rule(
        "who picks each step's tier",
        " | ".join(config_mod.ROUTERS),
        one_of(config_mod.ROUTERS, "router"),
    ),
    "routing.steps": Rule(
        "per-step tier overrides, by step key or number (adaptive routers keep them)",
        "a model step -> " + " | ".join(_TIERS),
        each=one_of(_TIERS, "tier"),
        steps="model",
    ),
    "routing.high_threshold": Rule(
        "adaptive routers: frontier at or above this complexity score",
        "0 to 1, at least low_threshold",
        _fraction,
    ),
    "routing.low_threshold": Rule(
        "complexity: light below it; hybrid: frontier steps demoted to mid below it",
        "0 to 1, at most high_threshold",
        _fraction,
    ),
    "effort": Rule(
        "per-step output_config.effort, by step key or number",
        "a step -> " + " | ".join(config_mod.EFFORT_LEVELS),
        each=one_of(config_mod.EFFORT_LEVELS, "effort level"),
        steps="any",
    ),
    "commands.lint": Rule(
        "the lint check (the hooks run it on staged files)", _COMMAND, _shell_command
    ),
    "commands.format": Rule(
        "a check that fails when files need formatting", _COMMAND, _shell_command
    ),
    "commands.format_fix": Rule(
        "the command that fixes formatting, shown when format fails", _COMMAND, _shell_command
    ),
    "commands.test": Rule(
        "the full test suite (the build agent's checks, step 12)", _COMMAND, _shell_command
    ),
    "commands.quick_test": Rule("a fast test run for the commit hook", _COMMAND, _shell_command),
    "commands.smoke": Rule("the smoke test (step 15)", _COMMAND, _shell_command),
    "commands.timeout_s": Rule("seconds one command may run", _SECONDS, _seconds),
    "commands.lint_files": Rule(
        "the files lint checks, as glob patterns ([] = from the tool: ruff -> *.py, gofmt -> *.go)",
        'a list of patterns, such as ["*.go"] or ["src/*.ts"]',
        each=_file_pattern,
    ),
    "commands.format_files": Rule(
        "the files format checks, as glob patterns ([] = from the tool, as for lint_files)",
        'a list of patterns, such as ["*.rs"]',
        each=_file_pattern,
    ),
    "commands.file_suffixes": Rule(
        "the older form: endings for lint and format both, when their _files are empty",
        'a list of endings, such as [".py"]',
        each=_suffix,
    ),
    "budget.feature_usd": Rule(
        "USD ceiling of one feature: a call that could cross it is never sent", _USD, _usd
    ),
    "budget.step_usd": Rule("USD ceiling of each step", _USD, _usd),
    "budget.steps": Rule(
        "per-step USD ceilings, by step key or number", f"a step -> {_USD}", each=_usd, steps="any"
    ),
    "budget.team": Rule(
        "the team whose daily and monthly ceilings this repository's calls count against",
        'a name, such as "platform" ("" = no team)',
        lambda v: (
            None
            if v == v.strip() and "\n" not in v
            else "must be a name without surrounding spaces"
        ),
    ),
    "budget.daily_usd": Rule(
        "USD ceiling of the team per UTC day, across every devloop on the same ledger",
        _USD,
        _usd,
    ),
    "budget.monthly_usd": Rule(
        "USD ceiling of the team per UTC month, across every devloop on the same ledger",
        _USD,
        _usd,
    ),
    "ledger.url": Rule(
        "a shared PostgreSQL ledger (DEVLOOP_LEDGER_URL overrides it)",
        '"" (.devloop/ledger.db) or "postgresql://USER@HOST/DATABASE"',
        _ledger_url,
    ),
    "ledger.repository": Rule(
        "the repository name the ledger's rows record",
        '"" (the directory\'s name) or a name',
        _name,
    ),
    "git.branch_prefix": Rule(
        "prepended to the slug to name a feature's branch",
        "a valid start of a git branch name (git check-ref-format)",
        ref_problem,
    ),
    "git.commit_types": Rule(
        "Conventional Commit types the commit-msg check allows",
        "one or more words, no repeats",
        _commit_types,
        each=_commit_type,
    ),
    "git.header_max_length": Rule(
        "longest commit header the commit-msg check allows (room for a type and a subject)",
        "30 or more",
        at_least(30),
    ),
    "loop.max_revisions": Rule(
        "revision rounds a failed validation may send back before the run stops",
        "0 or more",
        at_least(0),
    ),
    "loop.spec_max_bytes": Rule("largest spec file read", _POSITIVE, at_least(1)),
    "loop.project_map_tokens": Rule(
        "size of the project map in the prefix", _POSITIVE, at_least(1)
    ),
    "loop.task_map_tokens": Rule(
        "code related to the files an implement task, remediation or final remediation "
        "works on (the map ranked for them), outside the prefix; 0 leaves it out",
        "0 or more",
        at_least(0),
    ),
    "loop.code_tokens": Rule(
        "the contract's files shown to validate-integration, review and audit, in all",
        _POSITIVE,
        at_least(1),
    ),
    "loop.research_turns": Rule(
        "model turns research may spend looking at the code", _POSITIVE, at_least(1)
    ),
    "loop.max_tokens": Rule(
        "per-step max output tokens per call, by step key or number",
        "a step -> 1 or more",
        each=at_least(1),
        steps="any",
    ),
    "loop.remediate_severity": Rule(
        "step 11 fixes review and audit findings at or above this",
        " | ".join(config_mod.LOOP_SEVERITIES),
        one_of(config_mod.LOOP_SEVERITIES, "severity"),
    ),
    "tools.view_max_chars": Rule("a longer file or directory view is cut", _POSITIVE, at_least(1)),
    "tools.file_max_bytes": Rule(
        "bigger files are viewed only by line range and never edited", _POSITIVE, at_least(1)
    ),
    "tools.command_timeout_s": Rule("seconds one agent command may run", _SECONDS, _seconds),
    "tools.command_output_max_chars": Rule(
        "longer command output keeps its head and tail", _POSITIVE, at_least(1)
    ),
    "sandbox.mode": Rule(
        '"off" runs model-influenced commands unsandboxed (warned on every run, recorded)',
        " | ".join(config_mod.SANDBOX_MODES),
        one_of(config_mod.SANDBOX_MODES, "sandbox mode"),
    ),
    "sandbox.network": Rule("share the host's network with the sandbox", "true or false"),
    "sandbox.read": Rule(
        "extra paths visible read-only in the sandbox",
        'absolute paths or "~/..."',
        each=_read_path,
    ),
    "sandbox.env": Rule(
        "extra environment variables passed into the sandbox",
        "variable names; never a credential",
        each=_env_name,
    ),
    "agent.attempts": Rule("attempts per task and tier", _POSITIVE, at_least(1)),
    "agent.max_turns": Rule("model calls per attempt", _POSITIVE, at_least(1)),
    "agent.max_tool_calls": Rule("tool calls per attempt", _POSITIVE, at_least(1)),
    "agent.escalate": Rule(
        "when the routed tier's attempts fail, a fresh conversation on the frontier tier",
        "true or false",
    ),
    "agent.docs_files": Rule(
        "files the docs step (14) may update", "paths relative to the root", each=_relative_path
    ),
    "agent.diff_max_chars": Rule(
        "the diff shown on escalation and to the docs step", _POSITIVE, at_least(1)
    ),
}


def keys(cls: type = Config, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field]]:
    """Every key a config file may set, dotted ("loop.max_revisions"), with its field."""
    for f in dataclasses.fields(cls):
        if f.metadata.get("toml", True) is False:
            continue
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            yield from keys(hint, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f


# ---------------------------------------------------------------- validation


def validate(cfg: Config, where: str, prefix: str) -> None:
    """Hold every key of `cfg` to its rule, then the rules between keys; a ConfigError
    naming the first value that breaks one. Step tables are rewritten to step keys."""
    for key, rule in RULES.items():
        owner, name = _owner(cfg, key)
        value = getattr(owner, name)
        path = prefix + key
        if rule.steps:
            value = _step_table(value, rule, where, path)
            setattr(owner, name, value)
        elif rule.each is not None:
            for i, item in enumerate(value):
                if problem := rule.each(item):
                    raise key_error(
                        where, f"{path}[{i}]", problem, value=item, fix="Change or remove it."
                    )
        if rule.check is not None and (problem := rule.check(value)):
            raise key_error(where, path, problem, value=value, fix=_fix(key))
    _check_thresholds(cfg, where, prefix)
    _check_team(cfg, where, prefix)
    _check_models(cfg, where, prefix)


def _owner(cfg: Config, key: str) -> tuple[Any, str]:
    *tables, name = key.split(".")
    owner: Any = cfg
    for table in tables:
        owner = getattr(owner, table)
    return owner, name


def _fix(key: str) -> str:
    default = default_of(key)
    if default is None:
        return "Change it, or delete the line to have none."
    return f"Change it, or delete the line for the default ({config_mod.toml_value(default)})."


def default_of(key: str) -> Any:
    """The value a key has when a config does not set it."""
    owner, name = _owner(Config(), key)
    return getattr(owner, name)


def _step_table(table: dict[str, Any], rule: Rule, where: str, path: str) -> dict[str, Any]:
    if not table:
        return table  # the commit hook's usual case: the step table is never imported
    from devloop.steps import resolve_step

    out = {}
    for name, value in table.items():
        at = f"{path}.{name}"
        try:
            step = resolve_step(name)
        except UnknownStepError as exc:
            raise key_error(where, at, exc.message.rstrip(".")) from None
        if rule.steps == "model" and not step.calls_model:
            raise key_error(
                where,
                at,
                f"step '{step.key}' is run by a script and has no model tier",
                fix="Remove this line.",
            )
        if rule.each is not None and (problem := rule.each(value)):
            raise key_error(where, at, problem, value=value, fix="Change or remove it.")
        out[step.key] = value
    return out


def _check_thresholds(cfg: Config, where: str, prefix: str) -> None:
    low, high = cfg.routing.low_threshold, cfg.routing.high_threshold
    if low > high:
        raise key_error(
            where,
            f"{prefix}routing.low_threshold",
            f"must be at most high_threshold ({config_mod.toml_value(high)})",
            value=low,
            fix="Lower it or raise high_threshold.",
        )


def _check_team(cfg: Config, where: str, prefix: str) -> None:
    budget = cfg.budget
    for name in ("daily_usd", "monthly_usd"):
        if getattr(budget, name) is not None and not budget.team:
            raise key_error(
                where,
                f"{prefix}budget.{name}",
                "is a team's ceiling, and [budget] team is not set",
                value=getattr(budget, name),
                fix='Name the team it belongs to, e.g. team = "platform" under [budget].',
            )


def priced_models() -> frozenset[str]:
    """Every model id devloop's price table prices: each row's `model` and `aliases`.

    Read straight from devloop/model/prices.toml, without importing the model layer, so a
    command that never calls a model stays fast; a test checks it agrees with
    model.pricing.known_models()."""
    path = Path(__file__).resolve().parent / "model" / "prices.toml"
    data = config_mod.read_toml(path, str(path), "cannot read the price table (reinstall devloop)")
    ids = set()
    for row in data.get("price", []):
        ids.add(row.get("model", ""))
        ids.update(row.get("aliases", []))
    return frozenset(ids - {""})


def _check_models(cfg: Config, where: str, prefix: str) -> None:
    """Each tier's model must be priced, unless [models] allow_unpriced says otherwise; an
    allowed unpriced model cannot sit under a [budget] ceiling (no call to it would be sent)."""
    defaults = config_mod.ModelsConfig()
    chosen = {tier: cfg.models.for_tier(tier) for tier in _TIERS}
    if all(model == defaults.for_tier(tier) for tier, model in chosen.items()):
        return  # the defaults are priced (a test checks): no need to read the table
    known = priced_models()
    unpriced = {tier: model for tier, model in chosen.items() if model not in known}
    if not unpriced:
        return
    tier, model = next(iter(unpriced.items()))
    path = f"{prefix}models.{tier}"
    if not cfg.models.allow_unpriced:
        hint = did_you_mean(model, sorted(known))
        raise key_error(
            where,
            path,
            "is not in devloop's price table, so its calls could not be priced and no budget "
            f"could hold them.{hint}",
            value=model,
            fix=f"Use a priced model (`devloop models` shows the tiers; the default is "
            f"{defaults.for_tier(tier)}), or set [{prefix}models] allow_unpriced = true to run "
            "it unpriced, with no budget ceiling.",
        )
    ceilings = [
        name for name in ("feature_usd", "step_usd") if getattr(cfg.budget, name) is not None
    ] + (["steps"] if cfg.budget.steps else [])
    if ceilings:
        raise key_error(
            where,
            path,
            f"has no price, and [{prefix}budget] {ceilings[0]} is set: devloop never sends a "
            "call it cannot price under a ceiling, so this tier could not run",
            value=model,
            fix=f"Remove [{prefix}budget] {', '.join(ceilings)}, or use a priced model.",
        )


# ---------------------------------------------------------------- the reference


def _type_label(key: str, rule: Rule) -> str:
    owner, name = _owner(Config(), key)
    hint = typing.get_type_hints(type(owner))[name]
    if rule.steps:
        (_, value) = typing.get_args(hint)
        return f"table: step -> {_plain_type(value)}"
    return _plain_type(hint)


def _plain_type(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        return "list of strings"
    if tp == Decimal | None:
        return "USD amount"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Decimal: "USD"}[tp]


def _default_text(key: str) -> str:
    value = default_of(key)
    if value is None or value == {}:
        return "none"
    return f"`{config_mod.toml_value(value)}`"


def reference_markdown() -> str:
    """The README's config reference: one table per TOML table, every key in it."""
    sections: dict[str, list[str]] = {}
    for key, rule in RULES.items():
        table, _, name = key.rpartition(".")
        if not table:  # a top-level table of its own ([effort])
            table, name = key, "<step>"
        cells = [
            f"`{name}`" if table != key else name,
            _type_label(key, rule),
            _default_text(key).replace("|", "\\|"),
            rule.allowed.replace("|", "\\|"),
            rule.meaning.replace("|", "\\|"),
        ]
        sections.setdefault(table, []).append("| " + " | ".join(cells) + " |")
    out = []
    for table, rows in sections.items():
        out += [f"`[{table}]`", "", "| key | type | default | allowed | meaning |"]
        out += ["|---|---|---|---|---|", *rows, ""]
    return "\n".join(out).rstrip() + "\n"
